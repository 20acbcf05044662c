package sandbox

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// Pod logs in the sandbox. kwok plays every node's kubelet, and serves a container's log from
// the file that a Logs object (kwok.x-k8s.io/v1alpha1, one per pod, made by the metrics
// simulator) names. The API server's pod log endpoint reaches a node's kubelet at the node's
// address and port, so:
//   - kwok reports every node's InternalIP as 127.0.0.1 and its kubelet port as kwok's own
//     server port (--node-ip, --node-port), and serves TLS there with a certificate for
//     127.0.0.1 (made here);
//   - the API server trusts that certificate (--kubelet-certificate-authority) and dials only
//     the InternalIP (--kubelet-preferred-address-types), never the node's name;
//   - pod IPs (--cidr) stay data: nothing in the sandbox dials a pod.

// PodLogsDir is the folder, inside the sandbox's, where the simulator writes container logs.
const PodLogsDir = "podlogs"

// kubeletCertFiles are kwok's serving certificate and key, made at start.
func (s *Sandbox) kubeletCertFiles() (cert, key string) {
	return s.path("pki", "kwok-kubelet.crt"), s.path("pki", "kwok-kubelet.key")
}

// writeKubeletCert makes a self-signed certificate for 127.0.0.1, valid for a week: kwok serves
// it, and the API server takes it as the kubelets' certificate authority.
func (s *Sandbox) writeKubeletCert() error {
	certFile, keyFile := s.kubeletCertFiles()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "opsdeck-sandbox-kwok-kubelet"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(7 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return err
	}
	return os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
}

// logsCRD is the Logs resource of kwok, with an open schema: the simulator writes its objects
// and kwok reads them; the API server needs only to store them.
const logsCRD = `{
  "apiVersion": "apiextensions.k8s.io/v1",
  "kind": "CustomResourceDefinition",
  "metadata": {"name": "logs.kwok.x-k8s.io"},
  "spec": {
    "group": "kwok.x-k8s.io",
    "names": {"kind": "Logs", "listKind": "LogsList", "plural": "logs", "singular": "logs"},
    "scope": "Namespaced",
    "versions": [{
      "name": "v1alpha1", "served": true, "storage": true,
      "subresources": {"status": {}},
      "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}
    }]
  }
}`

// installLogsCRD creates kwok's Logs resource and waits until the API server serves it.
func (s *Sandbox) installLogsCRD(ctx context.Context) error {
	client, err := s.client()
	if err != nil {
		return err
	}
	rc := client.Discovery().RESTClient()
	err = rc.Post().AbsPath("/apis/apiextensions.k8s.io/v1/customresourcedefinitions").
		SetHeader("Content-Type", "application/json").Body([]byte(logsCRD)).Do(ctx).Error()
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create the Logs resource: %w", err)
	}
	return s.waitFor(ctx, "the Logs resource served", 30*time.Second, func(ctx context.Context) (bool, error) {
		res, err := client.Discovery().ServerResourcesForGroupVersion("kwok.x-k8s.io/v1alpha1")
		if err != nil {
			return false, err
		}
		for _, r := range res.APIResources {
			if r.Name == "logs" {
				return true, nil
			}
		}
		return false, fmt.Errorf("logs not among %d resources yet", len(res.APIResources))
	})
}
