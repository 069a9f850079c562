package jirasim

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// webhook is where the simulator posts Jira's webhook deliveries, as a
// Jira administrator registers one: a URL and a secret that signs each
// body (X-Hub-Signature: sha256=<hex>).
type webhook struct {
	mu       sync.Mutex
	url      string
	secret   string
	sent     int64
	failures int64
	client   http.Client
}

// SetWebhook makes the simulator post a delivery to url, signed with
// secret, whenever an issue changes (Touch, Transition: jira:issue_updated;
// Delete: jira:issue_deleted). An empty url stops it.
func (s *Sim) SetWebhook(url, secret string) {
	s.hook.mu.Lock()
	defer s.hook.mu.Unlock()
	s.hook.url, s.hook.secret = url, secret
	s.hook.client.Timeout = 10 * time.Second
}

// Webhooks says how many deliveries were posted and how many of them
// failed (no answer, or not 2xx).
func (s *Sim) Webhooks() (sent, failed int64) {
	s.hook.mu.Lock()
	defer s.hook.mu.Unlock()
	return s.hook.sent, s.hook.failures
}

// WebhookBody is the body Jira posts for an event on an issue, sent at
// (Jira's timestamp: when it sends, in milliseconds).
func (s *Sim) WebhookBody(event string, is *Issue, at time.Time) []byte {
	b, _ := json.Marshal(map[string]any{
		"timestamp": at.UnixMilli(), "webhookEvent": event, "issue_event_type_name": "issue_generic",
		"user": map[string]any{"accountId": "5b10a2844c20165700ede210", "displayName": "Simulated Admin"},
		"issue": map[string]any{"id": strconv.FormatInt(is.ID, 10), "key": is.Key, "self": s.base + "/rest/api/2/issue/" + strconv.FormatInt(is.ID, 10),
			"fields": map[string]any{"summary": is.Summary, "status": map[string]any{"id": is.Status.ID, "name": is.Status.Name}}},
	})
	return b
}

// Sign is the X-Hub-Signature of body under secret.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// deliver posts the delivery of an issue event, if a webhook is set.
func (s *Sim) deliver(event string, is *Issue) {
	s.post(s.WebhookBody(event, is, time.Now()), fmt.Sprintf("sim-%d", is.ID))
}

// post posts one signed delivery, if a webhook is set; the identifier is
// made unique with a count.
func (s *Sim) post(body []byte, id string) {
	s.hook.mu.Lock()
	url, secret := s.hook.url, s.hook.secret
	if url == "" {
		s.hook.mu.Unlock()
		return
	}
	s.hook.sent++
	n := s.hook.sent
	s.hook.mu.Unlock()
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Hub-Signature", Sign(secret, body))
	req.Header.Set("X-Atlassian-Webhook-Identifier", fmt.Sprintf("%s-%d", id, n))
	resp, err := s.hook.client.Do(req)
	if err == nil {
		resp.Body.Close()
	}
	if err != nil || resp.StatusCode/100 != 2 {
		s.hook.mu.Lock()
		s.hook.failures++
		s.hook.mu.Unlock()
	}
}

// Served says how many times an issue was served: in a search page or by
// /rest/api/2/issue (a fetch of the issue).
func (s *Sim) Served(key string) int {
	s.servedMu.Lock()
	defer s.servedMu.Unlock()
	return s.served[key]
}

func (s *Sim) countServed(key string) {
	s.servedMu.Lock()
	if s.served == nil {
		s.served = map[string]int{}
	}
	s.served[key]++
	s.servedMu.Unlock()
}
