package evident

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// MeasureInfo describes a Key Value Measure: its key (what goals,
// experiments and imports name), its name in words, its unit, its Key
// Value Area and which direction is better ("higher", "lower" or "").
type MeasureInfo struct {
	Key    string `json:"key"`
	Name   string `json:"name"`
	Unit   string `json:"unit"`
	KVA    string `json:"kva"`
	Better string `json:"better"`
	// Source is where the value comes from: jira, survey or import.
	Source string `json:"source"`
}

// Measures lists the measures Evident knows: those it computes from Jira
// and surveys, and the imported ones it places in a Key Value Area. Any
// other imported measure is known by the records that name it.
var Measures = []MeasureInfo{
	{"value_delivered", "Value delivered", "business value", KVACurrentValue, "higher", "jira"},
	{"nps", "Net Promoter Score", "NPS", KVACurrentValue, "higher", "survey"},
	{"csat", "Customer satisfaction (CSAT)", "% satisfied", KVACurrentValue, "higher", "survey"},
	{"employee_nps", "Employee satisfaction (eNPS)", "eNPS", KVACurrentValue, "higher", "survey"},
	{"lead_time_p85_days", "Lead time (85th percentile)", "days", KVATimeToMarket, "lower", "jira"},
	{"cycle_time_p85_days", "Cycle time (85th percentile)", "days", KVATimeToMarket, "lower", "jira"},
	{"release_frequency", "Release frequency", "releases per month", KVATimeToMarket, "higher", "jira"},
	{"innovation_rate", "Innovation rate", "share of done work", KVAAbilityToInnovate, "higher", "jira"},
	{"open_defects", "Open defects", "issues", KVAAbilityToInnovate, "lower", "jira"},
	{"mttr_days", "Incident mean time to repair", "days", KVAAbilityToInnovate, "lower", "jira"},
	{"technical_debt_open", "Open technical debt", "issues", KVAAbilityToInnovate, "lower", "jira"},

	{"revenue", "Revenue", "", KVACurrentValue, "higher", "import"},
	{"revenue_per_employee", "Revenue per employee", "", KVACurrentValue, "higher", "import"},
	{"product_cost_ratio", "Product cost ratio", "", KVACurrentValue, "lower", "import"},
	{"customer_usage_index", "Customer usage index", "", KVACurrentValue, "higher", "import"},
	{"usage_index", "Usage index", "", KVACurrentValue, "higher", "import"},
	{"employee_satisfaction", "Employee satisfaction", "", KVACurrentValue, "higher", "import"},
	{"cost", "Cost", "", KVACurrentValue, "lower", "import"},
	{"employee_count", "Employees", "", KVACurrentValue, "", "import"},
	{"market_share", "Market share", "", KVAUnrealizedValue, "higher", "import"},
	{"satisfaction_gap", "Satisfaction gap", "", KVAUnrealizedValue, "lower", "import"},
	{"desired_customer_experience", "Desired customer experience", "", KVAUnrealizedValue, "higher", "import"},
	{"build_frequency", "Build frequency", "", KVATimeToMarket, "higher", "import"},
	{"integration_frequency", "Integration frequency", "", KVATimeToMarket, "higher", "import"},
	{"time_to_learn", "Time to learn", "", KVATimeToMarket, "lower", "import"},
	{"release_stabilization_days", "Release stabilization", "days", KVATimeToMarket, "lower", "import"},
	{"on_product_index", "On-product index", "", KVAAbilityToInnovate, "higher", "import"},
	{"installed_version_index", "Installed version index", "", KVAAbilityToInnovate, "higher", "import"},
}

// MeasureOf describes a measure by its key. An unknown key is an imported
// measure: its name is the key in words and it counts as Current Value;
// known says which.
func MeasureOf(key string) (m MeasureInfo, known bool) {
	for _, m := range Measures {
		if m.Key == key {
			return m, true
		}
	}
	name := strings.TrimSpace(strings.ReplaceAll(key, "_", " "))
	if r, size := utf8.DecodeRuneInString(name); size > 0 {
		name = string(unicode.ToUpper(r)) + name[size:]
	}
	return MeasureInfo{Key: key, Name: name, KVA: KVACurrentValue, Source: "import"}, false
}
