package dashboard

import (
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/evident-ebm/evident"
)

// FuzzQueryParameters: any query string parses into a filter or a 400 that
// names a parameter; nothing panics and a parsed range is never inverted.
func FuzzQueryParameters(f *testing.F) {
	for _, q := range []string{"project=SHOP&from=2024-01-01&to=2024-02-01", "from=2024-13-01", "board=-1", "type=Bug,,Story&category=defect",
		"limit=1e9", "from=0001-01-01&to=9999-12-31", "period=quarter", "from=2024-02-01&to=2024-01-01", "category=%00"} {
		f.Add(q)
	}
	now := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	app := fiber.New()
	app.Get("/", func(c *fiber.Ctx) error {
		p := params{c: c, now: now}
		flt, err := p.filter()
		if err != nil {
			if evident.ErrorCode(err) != evident.EINVALID || !strings.Contains(evident.ErrorMessage(err), ":") {
				panic("unexpected error: " + err.Error())
			}
			return c.SendStatus(400)
		}
		if !flt.From.Before(flt.To) {
			panic("inverted range")
		}
		if _, err := p.period(); err != nil && evident.ErrorCode(err) != evident.EINVALID {
			panic(err)
		}
		if _, err := p.int("limit", 100, 1, 100000); err != nil && evident.ErrorCode(err) != evident.EINVALID {
			panic(err)
		}
		return c.SendStatus(200)
	})
	f.Fuzz(func(t *testing.T, q string) {
		vals, err := url.ParseQuery(q)
		if err != nil {
			return
		}
		// Re-encoded, so that any value reaches the handler as a browser would send it.
		enc := vals.Encode()
		if len(enc) > 3500 {
			return // the server refuses request lines over its 4 KiB buffer with 431 before any handler
		}
		resp, err := app.Test(httptest.NewRequest("GET", "/?"+enc, nil), -1)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 && resp.StatusCode != 400 {
			t.Fatalf("%q: status %d", q, resp.StatusCode)
		}
	})
}
