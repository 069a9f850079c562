package dashboard_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/evident-ebm/evident/collector"
	"github.com/evident-ebm/evident/dashboard"
	"github.com/evident-ebm/evident/metrics"
)

// Jira's webhooks carry no dashboard token: the route takes signed
// deliveries, refuses the rest, and reads bodies larger than the 16 KiB an
// anonymous request may send (Jira sends the whole issue).
func TestWebhookRouteTakesSignedDeliveriesWithoutAToken(t *testing.T) {
	hooks := &collector.Webhooks{Sites: []collector.SiteConfig{{Name: "acme", WebhookSecret: "s3cret"}}}
	srv := dashboard.New(dashboard.Config{Measures: metrics.New(nil), ViewerTokens: []string{"viewer-token"}, Webhooks: hooks})
	big := strings.Repeat("x", 100<<10)
	body := fmt.Sprintf(`{"timestamp":%d,"webhookEvent":"jira:issue_updated","issue":{"id":"10001","key":"SHOP-1","fields":{"description":%q}}}`, time.Now().UnixMilli(), big)
	sig := collector.SignWebhook("s3cret", []byte(body))
	for _, c := range []struct {
		name, path, sig, body string
		status                int
	}{
		{"signed", "/api/v1/jira/webhook/acme", sig, body, 204},
		{"the one site, no name in the path", "/api/v1/jira/webhook", sig, body, 204},
		{"no signature", "/api/v1/jira/webhook/acme", "", body, 401},
		{"wrong signature", "/api/v1/jira/webhook/acme", collector.SignWebhook("guess", []byte(body)), body, 401},
		{"altered body", "/api/v1/jira/webhook/acme", sig, strings.Replace(body, "SHOP-1", "SHOP-2", 1), 401},
		{"a site that takes no webhooks", "/api/v1/jira/webhook/other", sig, body, 404},
	} {
		status, got, _ := do(t, srv.App, "POST", c.path, "", c.body, "X-Hub-Signature", c.sig, "Content-Type", "application/json")
		if status != c.status {
			t.Errorf("%s: %d %s, want %d", c.name, status, got, c.status)
		}
		if status == 401 && !strings.Contains(got, "X-Hub-Signature") && !strings.Contains(got, "signature") {
			t.Errorf("%s: the refusal does not say why: %s", c.name, got)
		}
	}
	if st := hooks.Stats(); st.Accepted != 2 || st.Refused != 3 || st.Pending != 1 {
		t.Fatalf("stats %+v", st)
	}
	if _, metrics, _ := do(t, srv.App, "GET", "/metrics", "viewer-token", ""); !strings.Contains(metrics, `evident_webhooks_total{result="refused"} 3`) {
		t.Errorf("/metrics does not count the refused deliveries:\n%s", metrics)
	}
	// Other API routes still need the token.
	if status, _, _ := do(t, srv.App, "GET", "/api/v1/flow", "", ""); status != 401 {
		t.Fatalf("/api/v1/flow without a token: %d", status)
	}
}
