package cluster

import (
	"github.com/spf13/pflag"
	"k8s.io/client-go/tools/clientcmd"
)

// KubeFlags are kubectl's connection flags (--kubeconfig, --context, --cluster, --user, -n,
// -s/--server, --token, --as, --request-timeout, ...) with kubectl's loading rules, from
// client-go's clientcmd. kubectl's own ConfigFlags (cli-runtime) would link kustomize, and
// with it Go's plugin package, which makes the binary twice the size (see internal/rollout).
type KubeFlags struct {
	KubeConfig string
	Overrides  clientcmd.ConfigOverrides
}

// NewKubeFlags are the flags with kubectl's defaults.
func NewKubeFlags() *KubeFlags {
	return &KubeFlags{Overrides: clientcmd.ConfigOverrides{ClusterDefaults: clientcmd.ClusterDefaults}}
}

// AddFlags adds the flags to fs, named as kubectl names them.
func (f *KubeFlags) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&f.KubeConfig, clientcmd.RecommendedConfigPathFlag, "", "Path to the kubeconfig file to use for CLI requests.")
	names := clientcmd.RecommendedConfigOverrideFlags("")
	names.ClusterOverrideFlags.APIServer.ShortName = "s"
	clientcmd.BindOverrideFlags(&f.Overrides, fs, names)
}

// Loader reads the kubeconfig as kubectl does: --kubeconfig, else $KUBECONFIG, else
// ~/.kube/config, with the flags over it. It never prompts.
func (f *KubeFlags) Loader() clientcmd.ClientConfig {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.DefaultClientConfig = &clientcmd.DefaultClientConfig
	rules.ExplicitPath = f.KubeConfig
	return clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &f.Overrides)
}
