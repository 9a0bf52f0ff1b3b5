package extract

import (
	"errors"
	"math"
	"strconv"
	"time"

	"github.com/logmetrics/logmetrics/internal/pipeline"
)

var errNotFinite = errors.New("not a finite number")

// scaler applies a field's scale. A scale that is the reciprocal of a whole
// number (0.001, 1e-9) divides by that number instead of multiplying, so
// that 142 ms becomes 0.142 rather than 0.14200000000000002: division by an
// exact integer gives the correctly rounded decimal result.
type scaler struct {
	mul, div float64 // at most one of them is not zero
}

func newScaler(scale float64) scaler {
	if scale == 0 {
		return scaler{}
	}
	if inv := math.Round(1 / scale); inv >= 2 && math.Abs(1/scale-inv) <= 1e-9*inv {
		return scaler{div: inv}
	}
	return scaler{mul: scale}
}

func (s scaler) apply(f float64) float64 {
	switch {
	case s.div != 0:
		return f / s.div
	case s.mul != 0:
		return f * s.mul
	}
	return f
}

// errNotValue is convert's error for text that is plainly not a value of
// the type (nginx's "-" for no bytes): strconv's errors cost an allocation,
// and a log may have such a value on every line.
var errNotValue = errors.New("not a value of the type")

// convert turns the text of a value into a field value of type t. Numbers
// are parsed exactly as written; NaN and infinities are refused because line
// protocol cannot carry them.
func convert(s string, t Type, scale scaler) (pipeline.Value, error) {
	if t != TypeString && (s == "-" || s == "+" || s == ".") {
		return pipeline.Value{}, errNotValue
	}
	switch t {
	case TypeInt:
		if !decimal(s, true) {
			return pipeline.Value{}, errNotValue
		}
		i, err := strconv.ParseInt(s, 10, 64)
		return pipeline.IntValue(i), err
	case TypeUint:
		if !decimal(s, false) {
			return pipeline.Value{}, errNotValue
		}
		u, err := strconv.ParseUint(s, 10, 64)
		return pipeline.UintValue(u), err
	case TypeBool:
		b, err := strconv.ParseBool(s)
		return pipeline.BoolValue(b), err
	case TypeString:
		return pipeline.StringValue(s), nil
	case TypeDuration:
		d, err := time.ParseDuration(s)
		if err != nil {
			return pipeline.Value{}, err
		}
		return scaled(d.Seconds(), scale)
	default:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return pipeline.Value{}, err
		}
		return scaled(f, scale)
	}
}

func scaled(f float64, scale scaler) (pipeline.Value, error) {
	f = scale.apply(f)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return pipeline.Value{}, errNotFinite
	}
	return pipeline.FloatValue(f), nil
}

// decimal reports whether s has the syntax strconv reads base 10 integers
// in: digits, after a sign if signed. Only the range is left to strconv.
func decimal(s string, signed bool) bool {
	if signed && s != "" && (s[0] == '-' || s[0] == '+') {
		s = s[1:]
	}
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
