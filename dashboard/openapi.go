package dashboard

import (
	_ "embed"
	"encoding/json"

	"github.com/gofiber/fiber/v2"
)

//go:embed openapi.json
var openAPIDoc []byte

func (s *Server) openAPI(c *fiber.Ctx) error {
	c.Set("Content-Type", "application/json")
	return c.Send(openAPIDoc)
}

// knownParams are the query parameters some route reads: those the API
// document declares and those only pages take.
var knownParams = func() map[string]bool {
	out := map[string]bool{"progress": true, "csv": true, "next": true}
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if x["in"] == "query" {
				if name, ok := x["name"].(string); ok {
					out[name] = true
				}
			}
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	var doc any
	if err := json.Unmarshal(openAPIDoc, &doc); err != nil {
		panic("openapi.json: " + err.Error())
	}
	walk(doc)
	return out
}()
