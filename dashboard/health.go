package dashboard

import (
	"github.com/gofiber/fiber/v2"
)

func (s *Server) healthPage(c *fiber.Ctx) error {
	v, _, _, err := s.newView(c, "Data health", "health")
	if err != nil {
		return s.pageError(c, v, err)
	}
	h, err := s.cfg.Measures.Health(c.UserContext())
	if err != nil {
		return err
	}
	v.Data = h
	return s.render(c, "health", v)
}
