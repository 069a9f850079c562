package collector

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/evident-ebm/evident"
)

// SiteConfig says how to reach one Jira site and what to collect from it.
type SiteConfig struct {
	// Name identifies the site in storage; defaults to the URL's host.
	Name string `yaml:"name"`
	URL  string `yaml:"url"`
	// Email and APIToken authenticate on Jira Cloud (Basic auth).
	Email    string `yaml:"email"`
	APIToken string `yaml:"api_token"`
	// PAT authenticates on Jira Data Center (Bearer personal access token).
	PAT string `yaml:"pat"`
	// Projects are the keys of the projects to collect.
	Projects []string `yaml:"projects"`
	// JQL is an extra filter ANDed to every issue search.
	JQL string `yaml:"jql"`
	// RequestsPerSecond and Burst bound the rate of requests to the site.
	RequestsPerSecond float64 `yaml:"requests_per_second"`
	Burst             int     `yaml:"burst"`
	// Concurrency is how many requests may be in flight at once.
	Concurrency int `yaml:"concurrency"`
	// PageSize is the number of issues asked for per search page.
	PageSize int `yaml:"page_size"`
	// Overlap is subtracted from the checkpoint of an incremental sync, to
	// cover clock skew and issues updated while the last run was paging.
	Overlap time.Duration `yaml:"overlap"`
	// MaxRetries bounds the tries of one request on 429, 5xx and network errors.
	MaxRetries int `yaml:"max_retries"`
	// MaxPageMB bounds the body of one Jira answer (default 128 MiB, far
	// above a page of 100 issues with full changelogs): a larger one stops
	// the sync with an error instead of exhausting memory.
	MaxPageMB int `yaml:"max_page_mb"`
	// WebhookSecret is the secret of the Jira webhook that posts to
	// /api/v1/jira/webhook/<name>: deliveries signed with it are fetched
	// as they come (empty: the site takes no webhooks).
	WebhookSecret string `yaml:"webhook_secret"`
	// Fields overrides the custom field ids discovered by name.
	Fields FieldOverrides `yaml:"fields"`
	// Boards set where cycle time starts and ends by board column, by
	// board id; the project settings win over them (docs/metrics.md).
	Boards map[uint64]BoardCycle `yaml:"boards"`
	// ProjectSettings holds per-project mappings, by project key.
	ProjectSettings map[string]ProjectSettings `yaml:"project_settings"`
	// ServiceDeskFeedback collects the CSAT feedback of resolved requests of
	// Jira Service Management projects (one request per resolved issue that
	// changed); default on, "false" turns it off.
	ServiceDeskFeedback *bool `yaml:"service_desk_feedback"`
}

// FieldOverrides names custom field ids (customfield_10016) when discovery
// by name would pick the wrong one.
type FieldOverrides struct {
	StoryPoints   string `yaml:"story_points"`
	Sprint        string `yaml:"sprint"`
	EpicLink      string `yaml:"epic_link"`
	BusinessValue string `yaml:"business_value"`
	Rank          string `yaml:"rank"`
	// WSJF inputs and acceptance criteria, for backlog health.
	TimeCriticality string `yaml:"time_criticality"`
	RiskReduction   string `yaml:"risk_reduction"`
	JobSize         string `yaml:"job_size"`
	Acceptance      string `yaml:"acceptance_criteria"`
	// ParentLink is Data Center's Advanced Roadmaps "Parent Link" field.
	ParentLink string `yaml:"parent_link"`
	// Flagged is Jira Software's "Flagged" field (Impediment).
	Flagged string `yaml:"flagged"`
}

// ProjectSettings are a project's own mappings.
type ProjectSettings struct {
	// StatusCategories overrides a status's category, by status name or id
	// ("Ready for Release": done).
	StatusCategories map[string]string `yaml:"status_categories"`
	// StartStatuses also start the cycle-time clock, by name or id.
	StartStatuses []string `yaml:"start_statuses"`
	// WaitStatuses are not active work, for flow efficiency.
	WaitStatuses []string `yaml:"wait_statuses"`
	// WorkCategories maps issue type names to feature, defect, incident,
	// debt or other.
	WorkCategories map[string]string `yaml:"work_categories"`
	// BlockedStatuses and StalledStatuses count time in them as blocked
	// or stalled (default: a status named Blocked is blocked); StallDays
	// is how long work in progress goes without any change before it is
	// stalled (default 5); ExpeditedPriorities mark expedited work
	// (default Highest, Critical). docs/metrics.md defines each.
	BlockedStatuses     []string `yaml:"blocked_statuses"`
	StalledStatuses     []string `yaml:"stalled_statuses"`
	StallDays           float64  `yaml:"stall_days"`
	ExpeditedPriorities []string `yaml:"expedited_priorities"`
}

// Defaults fills the zero fields of a site's configuration.
func (c *SiteConfig) Defaults() {
	if c.RequestsPerSecond == 0 {
		c.RequestsPerSecond = 20
	}
	if c.Burst == 0 {
		c.Burst = 10
	}
	if c.Concurrency == 0 {
		c.Concurrency = 4
	}
	if c.PageSize == 0 {
		c.PageSize = 100
	}
	if c.Overlap == 0 {
		c.Overlap = 5 * time.Minute
	}
	if c.MaxRetries == 0 {
		c.MaxRetries = 8
	}
	if c.MaxPageMB == 0 {
		c.MaxPageMB = 128
	}
	if c.Name == "" {
		c.Name = hostOf(c.URL)
	}
}

// Validate reports the first thing wrong with the configuration, naming the
// setting.
func (c *SiteConfig) Validate() error {
	if u, err := url.Parse(c.URL); err == nil && u.User != nil {
		// Said without the URL: it holds a secret.
		return fmt.Errorf("jira site %q: the url carries credentials (user:password@): remove them and set email and api_token, or pat", RedactURL(c.Name))
	}
	switch {
	case c.URL == "":
		return fmt.Errorf("jira site %q: url is required (EVIDENT_JIRA_URL)", c.Name)
	case !strings.HasPrefix(c.URL, "http://") && !strings.HasPrefix(c.URL, "https://"):
		return fmt.Errorf("jira site %q: url %q must start with https:// (or http://)", c.Name, c.URL)
	case c.PAT == "" && (c.Email == "" || c.APIToken == ""):
		return fmt.Errorf("jira site %q: credentials missing: set email and api_token (Jira Cloud: EVIDENT_JIRA_EMAIL, EVIDENT_JIRA_API_TOKEN) or pat (Data Center: EVIDENT_JIRA_PAT)", c.Name)
	case len(c.Projects) == 0:
		return fmt.Errorf("jira site %q: no projects configured (EVIDENT_JIRA_PROJECTS=KEY1,KEY2)", c.Name)
	case c.RequestsPerSecond < 0 || c.Burst < 0 || c.Concurrency < 0 || c.PageSize < 0 || c.MaxRetries < 0 || c.MaxPageMB < 0:
		return fmt.Errorf("jira site %q: requests_per_second, burst, concurrency, page_size, max_retries and max_page_mb must not be negative", c.Name)
	}
	for key, ps := range c.ProjectSettings {
		for status, cat := range ps.StatusCategories {
			if !evident.OneOf(cat, []string{evident.CategoryNew, evident.CategoryIndeterminate, evident.CategoryDone}) {
				return fmt.Errorf("jira site %q: project_settings.%s.status_categories.%s: %q is not a category (new, indeterminate, done)", c.Name, key, status, cat)
			}
		}
		if ps.StallDays < 0 || ps.StallDays > 365 {
			return fmt.Errorf("jira site %q: project_settings.%s.stall_days: %v is not a number of days from 0 to 365 (0: the default, 5)", c.Name, key, ps.StallDays)
		}
		for typ, wc := range ps.WorkCategories {
			if !evident.OneOf(wc, evident.WorkCategories) {
				return fmt.Errorf("jira site %q: project_settings.%s.work_categories.%s: %q is not a work category (feature, defect, incident, debt, other)", c.Name, key, typ, wc)
			}
		}
	}
	return nil
}

func hostOf(u string) string {
	if p, err := url.Parse(u); err == nil && p.Host != "" {
		return p.Host // never the user:password@ part
	}
	u = strings.TrimPrefix(strings.TrimPrefix(u, "https://"), "http://")
	if i := strings.IndexAny(u, "/?#"); i >= 0 {
		u = u[:i]
	}
	if _, host, ok := strings.Cut(u, "@"); ok {
		u = host
	}
	return u
}

// RedactURL hides the password of a URL (user:****@host) and of a
// password query parameter, for printing; text that does not parse as a
// URL is hidden whole when it could hold one.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		if strings.Contains(raw, "@") || strings.Contains(strings.ToLower(raw), "password") {
			return "****"
		}
		return raw
	}
	if u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "****")
		}
	}
	q := u.Query()
	for k := range q {
		if strings.EqualFold(k, "password") {
			q.Set(k, "****")
			u.RawQuery = q.Encode()
		}
	}
	return u.String()
}
