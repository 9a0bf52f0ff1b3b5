package config

import (
	"fmt"
	"math"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// shape is what kind of value an attribute holds, as far as the attributes
// that accept collections care.
type shape int

const (
	absent shape = iota // not set, or null
	listShape
	mapShape
	scalarShape // anything else: the caller says what it wanted
	failed      // evaluation failed, and that is reported
)

// item is one element of a list or one entry of a map, with its place in the
// file. For a map entry Range covers "key = value"; for a list element, the
// element. When the collection is computed rather than written out, every
// item carries the range of the whole expression.
type item struct {
	Key        string // map entries only
	Value      cty.Value
	Range      hcl.Range
	ValueRange hcl.Range
}

// collection evaluates expr as a list or a map, keeping the range of each
// element when the collection is written out in the file. Elements that fail
// to evaluate are reported and left out; so are repeated map keys, which HCL
// would otherwise reject without saying which entry to remove.
func (l *loader) collection(expr hcl.Expression) (shape, []item) {
	if exprs, diags := hcl.ExprList(expr); !diags.HasErrors() {
		items := make([]item, 0, len(exprs))
		sh := listShape
		for _, e := range exprs {
			v, diags := e.Value(l.ctx)
			l.diags = append(l.diags, diags...)
			if diags.HasErrors() {
				sh = failed // reported; the list is not empty, just broken
				continue
			}
			items = append(items, item{Value: v, Range: e.Range(), ValueRange: e.Range()})
		}
		return sh, items
	}
	if pairs, diags := hcl.ExprMap(expr); !diags.HasErrors() {
		items := make([]item, 0, len(pairs))
		seen := map[string]hcl.Range{}
		for _, p := range pairs {
			rng := hcl.RangeBetween(p.Key.Range(), p.Value.Range())
			k, diags := p.Key.Value(l.ctx)
			l.diags = append(l.diags, diags...)
			if diags.HasErrors() {
				continue
			}
			key, ok := l.str(k, p.Key.Range(), "A key")
			if !ok {
				continue
			}
			if first, dup := seen[key]; dup {
				l.errorf(rng, nil, "Duplicate key",
					"The key %q is already set at %s; remove one of the two.", key, first)
				continue
			}
			seen[key] = rng
			v, diags := p.Value.Value(l.ctx)
			l.diags = append(l.diags, diags...)
			if !diags.HasErrors() {
				items = append(items, item{Key: key, Value: v, Range: rng, ValueRange: p.Value.Range()})
			}
		}
		return mapShape, items
	}

	// Not written out: a function call, a conditional and the like.
	v, diags := expr.Value(l.ctx)
	l.diags = append(l.diags, diags...)
	if diags.HasErrors() || !v.IsKnown() {
		// Without variables a value is unknown only after an error,
		// which is already reported.
		return failed, nil
	}
	if v.IsNull() {
		return absent, nil
	}
	rng := expr.Range()
	ty := v.Type()
	var items []item
	switch {
	case ty.IsListType() || ty.IsTupleType() || ty.IsSetType():
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			items = append(items, item{Value: e, Range: rng, ValueRange: rng})
		}
		return listShape, items
	case ty.IsMapType() || ty.IsObjectType():
		for it := v.ElementIterator(); it.Next(); {
			k, e := it.Element()
			items = append(items, item{Key: k.AsString(), Value: e, Range: rng, ValueRange: rng})
		}
		return mapShape, items
	}
	return scalarShape, nil
}

// str converts v to a string, reporting at rng when it is not one. what
// starts the Detail sentence: "A key", "Each path", ...
func (l *loader) str(v cty.Value, rng hcl.Range, what string) (string, bool) {
	if !v.IsNull() && v.IsWhollyKnown() {
		if s, err := convert.Convert(v, cty.String); err == nil {
			return s.AsString(), true
		}
	}
	l.errorf(rng, nil, "Not a string", "%s must be a string, not %s; quote it.", what, friendlyType(v))
	return "", false
}

// number converts v to a float64, reporting at rng when it is not a number.
func (l *loader) number(v cty.Value, rng hcl.Range, what string) (float64, bool) {
	if !v.IsNull() && v.IsWhollyKnown() {
		if n, err := convert.Convert(v, cty.Number); err == nil {
			// Float64 rounds; only a number beyond float64 fails here.
			if f, _ := n.AsBigFloat().Float64(); !math.IsInf(f, 0) {
				return f, true
			}
		}
	}
	l.errorf(rng, nil, "Not a number", "%s must be a number, not %s.", what, friendlyType(v))
	return 0, false
}

// strings evaluates an attribute that must be a list of strings, returning
// the strings with their ranges, and the shape it found. name is the
// attribute, for the Detail.
func (l *loader) strings(expr hcl.Expression, name string) ([]string, []hcl.Range, shape) {
	sh, items := l.collection(expr)
	switch sh {
	case absent:
		return nil, nil, sh
	case mapShape, scalarShape:
		l.errorf(expr.Range(), nil, "Not a list",
			"%s must be a list of strings, such as [\"a\", \"b\"].", name)
		return nil, nil, sh
	}
	out := make([]string, 0, len(items))
	rngs := make([]hcl.Range, 0, len(items))
	for _, it := range items {
		s, ok := l.str(it.Value, it.ValueRange, "Each element of "+name)
		if !ok {
			// Already reported; callers must not also call the list empty.
			sh = failed
			continue
		}
		out = append(out, s)
		rngs = append(rngs, it.ValueRange)
	}
	return out, rngs, sh
}

// stringMap evaluates an attribute that must be a map of strings, as the
// tags of the agent and of a source are.
func (l *loader) stringMap(expr hcl.Expression, name string) []item {
	sh, items := l.collection(expr)
	switch sh {
	case absent, failed:
		return nil
	case listShape, scalarShape:
		l.errorf(expr.Range(), nil, "Not a map",
			"%s must be a map of strings, such as { key = \"value\" }.", name)
		return nil
	}
	out := items[:0]
	for _, it := range items {
		if s, ok := l.str(it.Value, it.ValueRange, fmt.Sprintf("The value of %s.%s", name, it.Key)); ok {
			it.Value = cty.StringVal(s)
			out = append(out, it)
		}
	}
	return out
}

// friendlyType names a value's type the way a rules file author writes it.
func friendlyType(v cty.Value) string {
	if v.IsNull() {
		return "null"
	}
	ty := v.Type()
	switch {
	case ty == cty.Bool:
		return "a bool"
	case ty == cty.Number:
		return "a number"
	case ty == cty.String:
		return "a string"
	case ty.IsListType() || ty.IsTupleType() || ty.IsSetType():
		return "a list"
	case ty.IsMapType() || ty.IsObjectType():
		return "a map"
	}
	return ty.FriendlyName()
}
