package sandbox

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// The controllers a Deployment needs, and node-lifecycle, without which a new node keeps its
// not-ready taint and no pod is ever scheduled.
const controllers = "deployment-controller,replicaset-controller,garbage-collector-controller," +
	"namespace-controller,serviceaccount-controller,node-lifecycle-controller,endpointslice-controller"

func (s *Sandbox) bin(name string) string { return filepath.Join(s.opts.BinDir, name) }

func (s *Sandbox) startControlPlane(ctx context.Context) error {
	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", s.ports.etcd)
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", s.ports.etcdPeer)
	if _, err := s.start("etcd", s.bin("etcd"), s.opts.Tied,
		"--name=sandbox", "--data-dir="+s.path("etcd"),
		"--listen-client-urls="+etcdURL, "--advertise-client-urls="+etcdURL,
		"--listen-peer-urls="+peerURL, "--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=sandbox="+peerURL,
		// A throwaway store: durability buys nothing and fsyncs cost seconds at scale.
		"--unsafe-no-fsync", "--log-level=warn",
	); err != nil {
		return err
	}
	if err := s.waitFor(ctx, "etcd healthy", 30*time.Second, httpOK(etcdURL+"/health", "")); err != nil {
		return err
	}

	if err := s.writeKubeletCert(); err != nil {
		return err
	}
	kubeletCert, kubeletKey := s.kubeletCertFiles()
	if _, err := s.start("kube-apiserver", s.bin("kube-apiserver"), s.opts.Tied,
		"--etcd-servers="+etcdURL,
		fmt.Sprintf("--secure-port=%d", s.ports.apiserver),
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
		// The default reconciler refuses a loopback advertise address.
		"--endpoint-reconciler-type=none",
		"--cert-dir="+s.path("pki"),
		"--token-auth-file="+s.path("tokens.csv"),
		"--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file="+s.path("sa.key"),
		"--service-account-signing-key-file="+s.path("sa.key"),
		"--service-cluster-ip-range=10.96.0.0/16",
		// No pod waits for its namespace's default ServiceAccount: kwok runs no container
		// that would mount a token, and seeding a fresh namespace must not race it.
		"--disable-admission-plugins=ServiceAccount",
		"--profiling=false",
		// Pod logs: dial kubelets (kwok) only at their InternalIP, 127.0.0.1, and verify them.
		"--kubelet-certificate-authority="+kubeletCert, "--kubelet-preferred-address-types=InternalIP",
	); err != nil {
		return err
	}
	token, err := s.adminToken()
	if err != nil {
		return err
	}
	apiURL := fmt.Sprintf("https://127.0.0.1:%d", s.ports.apiserver)
	if err := s.waitFor(ctx, "kube-apiserver ready", 90*time.Second, httpOK(apiURL+"/readyz", token)); err != nil {
		return err
	}

	kubeconfig := "--kubeconfig=" + s.Kubeconfig()
	if _, err := s.start("kube-controller-manager", s.bin("kube-controller-manager"), s.opts.Tied,
		kubeconfig, "--leader-elect=false", "--controllers="+controllers,
		"--service-account-private-key-file="+s.path("sa.key"),
		"--root-ca-file="+s.path("pki", "apiserver.crt"),
		"--bind-address=127.0.0.1", fmt.Sprintf("--secure-port=%d", s.ports.controllerManager),
		"--kube-api-qps=200", "--kube-api-burst=400",
		"--concurrent-deployment-syncs=10", "--concurrent-replicaset-syncs=10",
	); err != nil {
		return err
	}
	if _, err := s.start("kube-scheduler", s.bin("kube-scheduler"), s.opts.Tied,
		kubeconfig, "--leader-elect=false",
		"--bind-address=127.0.0.1", fmt.Sprintf("--secure-port=%d", s.ports.scheduler),
	); err != nil {
		return err
	}
	stages := s.path("kwok-stages.yaml")
	if err := os.WriteFile(stages, kwokStages, 0o644); err != nil {
		return err
	}
	if err := s.installLogsCRD(ctx); err != nil {
		return err
	}
	_, err = s.start("kwok", s.bin("kwok"), s.opts.Tied,
		kubeconfig, "--config="+stages,
		"--manage-all-nodes=false",
		"--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
		// Addresses that exist only as data in the API: nothing may dial them.
		"--cidr=10.244.0.0/16",
		// Nodes are at 127.0.0.1, their kubelet being kwok's own TLS server (kwoklogs.go).
		"--node-ip=127.0.0.1", fmt.Sprintf("--node-port=%d", s.ports.kwok),
		"--tls-cert-file="+kubeletCert, "--tls-private-key-file="+kubeletKey, "--enable-crds=Logs",
		// Without leases the node-lifecycle controller marks nodes NotReady every minute.
		"--node-lease-duration-seconds=40",
		fmt.Sprintf("--server-address=127.0.0.1:%d", s.ports.kwok),
	)
	return err
}

// adminToken reads the admin's token back from the token file.
func (s *Sandbox) adminToken() (string, error) {
	b, err := os.ReadFile(s.path("tokens.csv"))
	if err != nil {
		return "", err
	}
	token, _, _ := strings.Cut(string(b), ",")
	return token, nil
}

// httpOK is a wait condition: url answers 200.
func httpOK(url, token string) func(context.Context) (bool, error) {
	// The API server's certificate is self-signed at its start; this is loopback only.
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // loopback sandbox
	}}
	return func(ctx context.Context) (bool, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return false, err
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := client.Do(req)
		if err != nil {
			return false, err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return false, fmt.Errorf("%s: %s", url, resp.Status)
		}
		return true, nil
	}
}

// createNodes makes the kwok nodes and waits until every one is Ready and untainted.
func (s *Sandbox) createNodes(ctx context.Context, client kubernetes.Interface) error {
	for i := 0; i < s.opts.Nodes; i++ {
		name := fmt.Sprintf("kwok-node-%d", i)
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Annotations: map[string]string{"kwok.x-k8s.io/node": "fake"},
			Labels:      map[string]string{"kubernetes.io/hostname": name, "type": "kwok"},
		}}
		if _, err := client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create node %s: %w", name, err)
		}
	}
	return s.waitFor(ctx, fmt.Sprintf("%d nodes Ready", s.opts.Nodes), 90*time.Second, func(ctx context.Context) (bool, error) {
		nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		ready := 0
		for _, n := range nodes.Items {
			if nodeReady(n) {
				ready++
			}
		}
		return ready >= s.opts.Nodes, fmt.Errorf("%d of %d nodes ready", ready, s.opts.Nodes)
	})
}

func nodeReady(n corev1.Node) bool {
	for _, t := range n.Spec.Taints {
		if t.Key == "node.kubernetes.io/not-ready" || t.Key == "node.kubernetes.io/unreachable" {
			return false
		}
	}
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
