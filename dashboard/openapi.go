package dashboard

import (
	_ "embed"

	"github.com/gofiber/fiber/v2"
)

//go:embed openapi.json
var openAPIDoc []byte

func (s *Server) openAPI(c *fiber.Ctx) error {
	c.Set("Content-Type", "application/json")
	return c.Send(openAPIDoc)
}
