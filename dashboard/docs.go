package dashboard

import (
	"html"
	"html/template"
	"regexp"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/evident-ebm/evident/docs"
)

// metricsDoc is docs/metrics.md as HTML, rendered once: the dashboard
// links to its own copy, which works offline.
var metricsDoc = markdownHTML(docs.Metrics)

func (s *Server) metricsPage(c *fiber.Ctx) error {
	v := view{Title: "Metric definitions", JiraURL: s.cfg.JiraURL, AuthOn: s.auth, Data: metricsDoc}
	return s.render(c, "doc", v)
}

var (
	inlineCode = regexp.MustCompile("`([^`]+)`")
	bold       = regexp.MustCompile(`\*\*([^*]+)\*\*`)
)

// inline escapes a line of markdown and renders its code spans and bold.
func inline(s string) string {
	s = html.EscapeString(s)
	s = inlineCode.ReplaceAllString(s, "<code>$1</code>")
	return bold.ReplaceAllString(s, "<strong>$1</strong>")
}

// markdownHTML renders the markdown our own documents use: headings,
// paragraphs, lists, pipe tables, code spans and bold. Everything is
// escaped first, so no text becomes markup by accident.
func markdownHTML(md string) template.HTML {
	var b strings.Builder
	lines := strings.Split(md, "\n")
	para := []string{}
	flush := func() {
		if len(para) > 0 {
			b.WriteString("<p>" + inline(strings.Join(para, " ")) + "</p>\n")
			para = para[:0]
		}
	}
	for i := 0; i < len(lines); i++ {
		l := strings.TrimRight(lines[i], " ")
		switch {
		case l == "":
			flush()
		case strings.HasPrefix(l, "#"):
			flush()
			level := len(l) - len(strings.TrimLeft(l, "#"))
			level = min(max(level, 1), 4)
			tag := "h" + string(rune('0'+level+1))
			b.WriteString("<" + tag + ">" + inline(strings.TrimSpace(l[level:])) + "</" + tag + ">\n")
		case strings.HasPrefix(l, "|"):
			flush()
			b.WriteString(`<table class="wide doc">`)
			row := 0
			for ; i < len(lines) && strings.HasPrefix(lines[i], "|"); i++ {
				cells := strings.Split(strings.Trim(strings.TrimSpace(lines[i]), "|"), "|")
				if strings.Trim(lines[i], "|- :") == "" {
					continue // the separator row
				}
				cell := "td"
				if row == 0 {
					cell = "th"
				}
				b.WriteString("<tr>")
				for _, c := range cells {
					b.WriteString("<" + cell + ">" + inline(strings.TrimSpace(c)) + "</" + cell + ">")
				}
				b.WriteString("</tr>\n")
				row++
			}
			i--
			b.WriteString("</table>\n")
		case strings.HasPrefix(l, "- "):
			flush()
			b.WriteString("<ul>")
			for ; i < len(lines) && (strings.HasPrefix(lines[i], "- ") || strings.HasPrefix(lines[i], "  ")) && strings.TrimSpace(lines[i]) != ""; i++ {
				if strings.HasPrefix(lines[i], "- ") {
					if !strings.HasSuffix(b.String(), "<ul>") {
						b.WriteString("</li>")
					}
					b.WriteString("<li>" + inline(strings.TrimPrefix(lines[i], "- ")))
				} else {
					b.WriteString(" " + inline(strings.TrimSpace(lines[i])))
				}
			}
			i--
			b.WriteString("</li></ul>\n")
		default:
			para = append(para, strings.TrimSpace(l))
		}
	}
	flush()
	return template.HTML(b.String()) // #nosec: every text was escaped by inline
}
