package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/evident-ebm/evident/collector"
)

// Config is the whole configuration of the evident command: defaults, then
// an optional YAML file, then environment variables on top.
type Config struct {
	ClickHouse struct {
		// DSN of the ClickHouse server, native protocol.
		DSN string `yaml:"dsn"`
		// Cluster switches the DDL to ON CLUSTER and Replicated* engines.
		Cluster string `yaml:"cluster"`
		// QueryTimeout bounds every query.
		QueryTimeout time.Duration `yaml:"query_timeout"`
	} `yaml:"clickhouse"`
	// Listen is the dashboard's address.
	Listen string `yaml:"listen"`
	// noJiraLinks keeps issue keys from linking to the site (the demo's
	// simulator has no /browse pages).
	noJiraLinks bool
	// SyncInterval is how often `serve` syncs the sites (0: never).
	SyncInterval time.Duration `yaml:"sync_interval"`
	// CacheMB bounds the dashboard's response cache (0: no cache).
	CacheMB int `yaml:"cache_mb"`
	// Auth holds the dashboard's access tokens.
	Auth struct {
		ViewerTokens []string `yaml:"viewer_tokens"`
		AdminTokens  []string `yaml:"admin_tokens"`
	} `yaml:"auth"`
	// Sites are the Jira sites to collect from.
	Sites []collector.SiteConfig `yaml:"sites"`
}

// DefaultConfig returns the configuration used when nothing is set.
func DefaultConfig() Config {
	var c Config
	c.ClickHouse.DSN = "clickhouse://default:@127.0.0.1:9000/evident"
	c.ClickHouse.QueryTimeout = 30 * time.Second
	c.Listen = "127.0.0.1:8080"
	c.CacheMB = 64
	return c
}

// envVars documents every environment variable the command reads.
var envVars = []struct{ Name, Help string }{
	{"EVIDENT_CONFIG", "path of the YAML configuration file (default ./evident.yaml when it exists)"},
	{"EVIDENT_CLICKHOUSE_DSN", "ClickHouse DSN, native protocol (default clickhouse://default:@127.0.0.1:9000/evident)"},
	{"EVIDENT_CLICKHOUSE_CLUSTER", "ClickHouse cluster name: DDL gets ON CLUSTER and Replicated* engines"},
	{"EVIDENT_LISTEN", "dashboard listen address (default 127.0.0.1:8080)"},
	{"EVIDENT_SYNC_INTERVAL", "how often `serve` syncs Jira, e.g. 15m (default: never)"},
	{"EVIDENT_CACHE_MB", "MiB of dashboard and API responses kept until the data changes (default 64; 0 turns the cache off)"},
	{"EVIDENT_AUTH_TOKENS", "dashboard tokens, comma-separated role:token pairs (viewer:…, admin:…)"},
	{"EVIDENT_JIRA_URL", "Jira base URL, e.g. https://example.atlassian.net (first site)"},
	{"EVIDENT_JIRA_EMAIL", "Jira Cloud account e-mail (Basic auth with the API token)"},
	{"EVIDENT_JIRA_API_TOKEN", "Jira Cloud API token"},
	{"EVIDENT_JIRA_PAT", "Jira Data Center personal access token (Bearer)"},
	{"EVIDENT_JIRA_PROJECTS", "project keys to collect, comma-separated"},
	{"EVIDENT_JIRA_JQL", "extra JQL ANDed to every issue search"},
	{"EVIDENT_JIRA_WEBHOOK_SECRET", "secret of the Jira webhook posting to /api/v1/jira/webhook/SITE (first site)"},
}

// LoadConfig layers the YAML file (when path is set or ./evident.yaml
// exists) and then the environment over DefaultConfig.
func LoadConfig(path string, getenv func(string) string) (Config, error) {
	c := DefaultConfig()
	explicit := path != ""
	if path == "" {
		path = getenv("EVIDENT_CONFIG")
		explicit = path != ""
	}
	if path == "" {
		path = "evident.yaml"
	}
	f, err := os.Open(path)
	switch {
	case err == nil:
		defer f.Close()
		if err := decodeYAML(f, &c); err != nil {
			return c, fmt.Errorf("config file %s: %w", path, err)
		}
	case errors.Is(err, os.ErrNotExist) && !explicit:
	default:
		return c, fmt.Errorf("config file: %w", err)
	}
	if err := applyEnv(&c, getenv); err != nil {
		return c, err
	}
	if c.CacheMB < 0 || c.CacheMB > 4096 {
		return c, fmt.Errorf("cache_mb: %d is not a whole number of MiB from 0 to 4096", c.CacheMB)
	}
	for i := range c.Sites {
		c.Sites[i].Defaults()
	}
	return c, nil
}

// decodeYAML decodes strictly: an unknown key is an error naming it and its line.
func decodeYAML(r io.Reader, c *Config) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

func applyEnv(c *Config, getenv func(string) string) error {
	if v := getenv("EVIDENT_CLICKHOUSE_DSN"); v != "" {
		c.ClickHouse.DSN = v
	}
	if v := getenv("EVIDENT_CLICKHOUSE_CLUSTER"); v != "" {
		c.ClickHouse.Cluster = v
	}
	if v := getenv("EVIDENT_LISTEN"); v != "" {
		c.Listen = v
	}
	if v := getenv("EVIDENT_SYNC_INTERVAL"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return fmt.Errorf("EVIDENT_SYNC_INTERVAL: %q is not a duration such as 15m", v)
		}
		c.SyncInterval = d
	}
	if v := getenv("EVIDENT_CACHE_MB"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 4096 {
			return fmt.Errorf("EVIDENT_CACHE_MB: %q is not a whole number of MiB from 0 to 4096", v)
		}
		c.CacheMB = n
	}
	if v := getenv("EVIDENT_AUTH_TOKENS"); v != "" {
		for i, pair := range strings.Split(v, ",") {
			role, tok, ok := strings.Cut(strings.TrimSpace(pair), ":")
			if !ok || tok == "" {
				return fmt.Errorf("EVIDENT_AUTH_TOKENS: entry %d is not role:token", i+1)
			}
			switch role {
			case "viewer":
				c.Auth.ViewerTokens = append(c.Auth.ViewerTokens, tok)
			case "admin":
				c.Auth.AdminTokens = append(c.Auth.AdminTokens, tok)
			default:
				return fmt.Errorf("EVIDENT_AUTH_TOKENS: entry %d has role %q, want viewer or admin", i+1, role)
			}
		}
	}
	jira := map[string]string{}
	for _, k := range []string{"URL", "EMAIL", "API_TOKEN", "PAT", "PROJECTS", "JQL", "WEBHOOK_SECRET"} {
		if v := getenv("EVIDENT_JIRA_" + k); v != "" {
			jira[k] = v
		}
	}
	if len(jira) > 0 {
		if len(c.Sites) == 0 {
			c.Sites = append(c.Sites, collector.SiteConfig{})
		}
		s := &c.Sites[0]
		set := func(dst *string, k string) {
			if v, ok := jira[k]; ok {
				*dst = v
			}
		}
		set(&s.URL, "URL")
		set(&s.Email, "EMAIL")
		set(&s.APIToken, "API_TOKEN")
		set(&s.PAT, "PAT")
		set(&s.JQL, "JQL")
		set(&s.WebhookSecret, "WEBHOOK_SECRET")
		if v, ok := jira["PROJECTS"]; ok {
			s.Projects = nil
			for _, p := range strings.Split(v, ",") {
				if p = strings.TrimSpace(p); p != "" {
					s.Projects = append(s.Projects, strings.ToUpper(p))
				}
			}
		}
	}
	return nil
}

// Redacted returns a copy of the configuration safe to print.
func (c Config) Redacted() Config {
	hide := func(s string) string {
		if s == "" {
			return ""
		}
		return "****"
	}
	r := c
	r.Sites = append([]collector.SiteConfig(nil), c.Sites...)
	for i := range r.Sites {
		r.Sites[i].APIToken = hide(r.Sites[i].APIToken)
		r.Sites[i].PAT = hide(r.Sites[i].PAT)
		r.Sites[i].WebhookSecret = hide(r.Sites[i].WebhookSecret)
	}
	r.Auth.ViewerTokens = []string{strconv.Itoa(len(c.Auth.ViewerTokens)) + " token(s)"}
	r.Auth.AdminTokens = []string{strconv.Itoa(len(c.Auth.AdminTokens)) + " token(s)"}
	return r
}
