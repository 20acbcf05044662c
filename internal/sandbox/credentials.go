package sandbox

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
)

// Users of the sandbox's API server, authenticated by static tokens. The viewer belongs to no
// group, so it may do only what a test grants it with RBAC: the way to provoke a refusal.
const (
	AdminUser   = "admin"
	ViewerUser  = "viewer"
	ContextName = "sandbox"
	// ViewerContext is a kubeconfig context that authenticates as ViewerUser.
	ViewerContext = "sandbox-viewer"
)

// writeCredentials makes the service-account signing key, the token file and the kubeconfig.
func (s *Sandbox) writeCredentials() error {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	if err := os.WriteFile(s.path("sa.key"), keyPEM, 0o600); err != nil {
		return err
	}
	admin, viewer := randomToken(), randomToken()
	tokens := fmt.Sprintf("%s,%s,%s,system:masters\n%s,%s,%s\n", admin, AdminUser, AdminUser, viewer, ViewerUser, ViewerUser)
	if err := os.WriteFile(s.path("tokens.csv"), []byte(tokens), 0o600); err != nil {
		return err
	}
	// The API server's serving certificate is self-signed and made at its start, so the
	// kubeconfig skips verification: acceptable on loopback, in a throwaway sandbox.
	kubeconfig := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: sandbox
  cluster:
    server: https://127.0.0.1:%d
    insecure-skip-tls-verify: true
users:
- name: %[2]s
  user:
    token: %[3]s
- name: %[4]s
  user:
    token: %[5]s
contexts:
- name: %[6]s
  context:
    cluster: sandbox
    user: %[2]s
    namespace: shop
- name: %[7]s
  context:
    cluster: sandbox
    user: %[4]s
    namespace: shop
current-context: %[6]s
`, s.ports.apiserver, AdminUser, admin, ViewerUser, viewer, ContextName, ViewerContext)
	return os.WriteFile(s.Kubeconfig(), []byte(kubeconfig), 0o600)
}

func randomToken() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (s *Sandbox) path(parts ...string) string {
	return filepath.Join(append([]string{s.Dir}, parts...)...)
}
