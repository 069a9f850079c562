package dashboard

import (
	"context"

	"github.com/gofiber/fiber/v2"

	"github.com/evident-ebm/evident"
)

const webhookPath = "/api/v1/jira/webhook"

// WebhookReceiver takes Jira's webhook deliveries (collector.Webhooks):
// it checks the signature and queues what the delivery names, fast.
type WebhookReceiver interface {
	Receive(site, signature, delivery string, body []byte) error
	// Counts are deliveries by result and fetches, for /metrics.
	Counts() map[string]int64
}

// webhook answers a Jira webhook delivery: 204 once queued, 401 for a
// missing or wrong signature or a replay, 404 for a site that takes no
// webhooks. The body is a hint: what it names is fetched from Jira.
func (s *Server) webhook(c *fiber.Ctx) error {
	if s.cfg.Webhooks == nil {
		return evident.Errorf(evident.ENOTFOUND, "this server takes no Jira webhooks: set webhook_secret for a site")
	}
	err := s.cfg.Webhooks.Receive(c.Params("site"), c.Get("X-Hub-Signature"), c.Get("X-Atlassian-Webhook-Identifier"), c.Body())
	if err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// dataVersion is the version of the data the answers about one project
// ("": any) rest on ("" without a Versioner): it changes with each new
// build of the read model that reached that project's views, and with
// every other change of the data.
func (s *Server) dataVersion(ctx context.Context, project string) (string, error) {
	switch {
	case s.cache != nil:
		return s.cache.scoped(ctx, project)
	case s.cfg.Versioner != nil:
		return s.cfg.Versioner.DataVersion(ctx)
	}
	return "", nil
}

// apiVersion answers the data version (of one project's views, with
// project), which pages poll to offer the new numbers once a sync or a
// webhook brought some. When the database does not answer it says so
// (503): an empty version would read as a change to every poller.
func (s *Server) apiVersion(c *fiber.Ctx) error {
	v, err := s.dataVersion(c.UserContext(), queryProject(c))
	if err != nil {
		return evident.Errorf(evident.EUNAVAILABLE, "the data version cannot be read now: %v", err)
	}
	return c.JSON(fiber.Map{"version": v})
}
