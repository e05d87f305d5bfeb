package document

import (
	"strings"
	"time"
)

// Globals are the names SSM provides as {{ global:NAME }}.
var Globals = []string{"ACCOUNT_ID", "AWS_PARTITION", "DATE", "DATE_TIME", "REGION"}

// AutomationVariables are the names SSM provides as {{ automation:NAME }}.
var AutomationVariables = []string{"EXECUTION_ID"}

// GlobalContext holds what the global variables are made of.
type GlobalContext struct {
	Now       time.Time
	Region    string
	AccountID string
	Partition string
}

// GlobalValue returns the value of {{ global:NAME }}; name may carry the
// "global:" prefix. Times are UTC, in SSM's formats (yyyy-MM-dd_HH.mm.ss).
func GlobalValue(name string, c GlobalContext) (any, bool) {
	switch strings.TrimPrefix(name, "global:") {
	case "DATE_TIME":
		return c.Now.UTC().Format("2006-01-02_15.04.05"), true
	case "DATE":
		return c.Now.UTC().Format("2006-01-02"), true
	case "REGION":
		return c.Region, true
	case "ACCOUNT_ID":
		return c.AccountID, true
	case "AWS_PARTITION":
		if c.Partition == "" {
			return "aws", true
		}
		return c.Partition, true
	}
	return nil, false
}
