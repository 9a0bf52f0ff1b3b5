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

// convert turns the text of a value into a field value of type t. Numbers
// are parsed exactly as written; NaN and infinities are refused because line
// protocol cannot carry them.
func convert(s string, t Type, scale scaler) (pipeline.Value, error) {
	switch t {
	case TypeInt:
		i, err := strconv.ParseInt(s, 10, 64)
		return pipeline.IntValue(i), err
	case TypeUint:
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
