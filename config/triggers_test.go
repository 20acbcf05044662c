package config

import (
	"fmt"
	"strings"
	"testing"
)

// Each bad listener or trigger setting is one error naming its YAML field and what to give.
func TestValidateTriggers(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"no secret", func(c *Config) {
			c.Triggers = []Trigger{{Repository: "acme/shop", Image: "r/app:${sha}", Services: []string{"shop/gateway"}}}
		}, "listener.webhook_secret_file: must be set (or listener.webhook_secret_env) when triggers are configured"},
		{"missing secret file", func(c *Config) { c.Listener.WebhookSecretFile = "/nonexistent/secret" }, "listener.webhook_secret_file: /nonexistent/secret: no such file"},
		{"no repository", func(c *Config) {
			c.Listener.WebhookSecretEnv = "X"
			c.Triggers = []Trigger{{Services: []string{"shop/gateway"}}}
		}, "triggers[0].repository: must be set"},
		{"twice", func(c *Config) {
			c.Listener.WebhookSecretEnv = "X"
			c.Triggers = []Trigger{{Repository: "a/b", Services: []string{"shop/x"}}, {Repository: "a/b", Services: []string{"shop/y"}}}
		}, `triggers[1].repository: "a/b" is mapped twice`},
		{"constant image", func(c *Config) {
			c.Listener.WebhookSecretEnv = "X"
			c.Triggers = []Trigger{{Repository: "a/b", Image: "r/app:latest", Services: []string{"shop/x"}}}
		}, `triggers[0].image: "r/app:latest" has neither ${sha} nor ${tag}`},
		{"bad service", func(c *Config) {
			c.Listener.WebhookSecretEnv = "X"
			c.Triggers = []Trigger{{Repository: "a/b", Services: []string{"gateway"}}}
		}, `triggers[0].services[0]: must be NAMESPACE/SERVICE or NAMESPACE/SERVICE/CONTAINER, not "gateway"`},
		{"no services", func(c *Config) {
			c.Listener.WebhookSecretEnv = "X"
			c.Triggers = []Trigger{{Repository: "a/b"}}
		}, "triggers[0].services: must name at least one NAMESPACE/SERVICE"},
		{"bad label", func(c *Config) { c.Listener.AlertServiceLabels = []string{"app.kubernetes.io/name"} }, `listener.alert_service_labels[0]: "app.kubernetes.io/name" is not a label name`},
	} {
		cfg := Default()
		c.edit(&cfg)
		errs := cfg.Validate()
		if len(errs) != 1 || !strings.Contains(errs[0].Error(), c.want) || strings.Contains(errs[0].Error(), "\n") {
			t.Errorf("%s: errors %v, want one line with %q", c.name, errs, c.want)
		}
	}
	good := Default()
	good.Listener.WebhookSecretEnv = "X"
	good.Triggers = []Trigger{{Repository: "acme/shop", Image: "r/app:${tag}", Services: []string{"shop/gateway/app", "shop/cart-service"}}}
	if errs := good.Validate(); errs != nil {
		t.Errorf("a good trigger: %v", fmt.Sprint(errs))
	}
}
