package config

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/hashicorp/hcl/v2"
)

// errorf adds an error diagnostic. subject is what is wrong; context, when
// not nil, is the enclosing block. The Detail says what to change.
func (l *loader) errorf(subject hcl.Range, context *hcl.Range, summary, detail string, args ...any) {
	l.add(hcl.DiagError, subject, context, summary, fmt.Sprintf(detail, args...))
}

// warnf adds a warning: the file loads, but something will not work the way
// its author likely expects.
func (l *loader) warnf(subject hcl.Range, context *hcl.Range, summary, detail string, args ...any) {
	l.add(hcl.DiagWarning, subject, context, summary, fmt.Sprintf(detail, args...))
}

func (l *loader) add(sev hcl.DiagnosticSeverity, subject hcl.Range, context *hcl.Range, summary, detail string) {
	l.diags = append(l.diags, &hcl.Diagnostic{
		Severity: sev,
		Summary:  summary,
		Detail:   detail,
		Subject:  subject.Ptr(),
		Context:  context,
	})
}

// sortDiagnostics orders diags by where they point, so that output follows
// the file and does not depend on the order of the checks (gohcl, for one,
// visits attributes in map order). Diagnostics without a place come last.
func sortDiagnostics(diags hcl.Diagnostics) {
	slices.SortStableFunc(diags, func(a, b *hcl.Diagnostic) int {
		switch {
		case a.Subject == nil || b.Subject == nil:
			return cmp.Compare(boolInt(a.Subject == nil), boolInt(b.Subject == nil))
		case a.Subject.Filename != b.Subject.Filename:
			return cmp.Compare(a.Subject.Filename, b.Subject.Filename)
		}
		return cmp.Compare(a.Subject.Start.Byte, b.Subject.Start.Byte)
	})
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
