package collector

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// A Jira webhook delivery is a hint, never data: it names what changed and
// the collector fetches that through the API as a sync does, so that a
// forged or partial payload cannot write anything. Jira signs the raw body
// with the webhook's secret: X-Hub-Signature: sha256=<hex of HMAC-SHA256>.

// Errors of a delivery, each answered 401 (ErrStale too: a replayed
// delivery is refused like a forged one).
var (
	ErrNoSignature  = errors.New("no X-Hub-Signature header: the webhook must be registered with the site's secret")
	ErrBadSignature = errors.New("the X-Hub-Signature does not match the body signed with the site's secret")
	ErrStale        = errors.New("the delivery is older than the replay window: refused as a replay")
)

// SignWebhook is the X-Hub-Signature Jira sends for body.
func SignWebhook(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// VerifyWebhook checks the signature header of a delivery against the
// body, in constant time.
func VerifyWebhook(secret string, body []byte, header string) error {
	if header == "" {
		return ErrNoSignature
	}
	algo, sig, ok := strings.Cut(header, "=")
	got, err := hex.DecodeString(sig)
	if !ok || !strings.EqualFold(algo, "sha256") || err != nil {
		return ErrBadSignature
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	if !hmac.Equal(got, m.Sum(nil)) {
		return ErrBadSignature
	}
	return nil
}

// Hint is what one delivery says changed.
type Hint struct {
	Event string
	// At is the delivery's timestamp (Jira's milliseconds).
	At time.Time
	// IssueID names the issue of an issue event (0: none).
	IssueID  uint64
	IssueKey string
	// Deleted: Jira says the issue was deleted.
	Deleted bool
	// Agile: a sprint, version or board changed: versions, boards, their
	// columns and sprints are read again.
	Agile bool
}

// ParseWebhook reads the event and the issue id of a delivery; it errs
// on a body that is not a Jira webhook (no webhookEvent), naming why.
func ParseWebhook(body []byte) (Hint, error) {
	var p struct {
		Timestamp    json.Number `json:"timestamp"`
		WebhookEvent string      `json:"webhookEvent"`
		Issue        *struct {
			ID  json.RawMessage `json:"id"`
			Key string          `json:"key"`
		} `json:"issue"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return Hint{}, fmt.Errorf("not a Jira webhook: %v", err)
	}
	h := Hint{Event: p.WebhookEvent}
	if ms, err := p.Timestamp.Int64(); err == nil && ms > 0 {
		h.At = time.UnixMilli(ms).UTC()
	}
	switch {
	case strings.HasPrefix(h.Event, "jira:issue_"):
		if p.Issue == nil {
			return h, fmt.Errorf("%s without an issue", h.Event)
		}
		id, err := strconv.ParseUint(strings.Trim(string(p.Issue.ID), `"`), 10, 64)
		if err != nil || id == 0 {
			return h, fmt.Errorf("%s: issue id %s is not a number", h.Event, p.Issue.ID)
		}
		h.IssueID, h.IssueKey, h.Deleted = id, p.Issue.Key, h.Event == "jira:issue_deleted"
	case strings.HasPrefix(h.Event, "sprint_"), strings.HasPrefix(h.Event, "jira:version_"), strings.HasPrefix(h.Event, "board_"):
		h.Agile = true
	case h.Event == "":
		return h, errors.New("not a Jira webhook: no webhookEvent")
	}
	return h, nil
}
