package extract

import (
	"errors"
	"math"
	"strconv"
	"time"

	"github.com/logmetrics/logmetrics/internal/pipeline"
)

var errNotFinite = errors.New("not a finite number")

// convert turns the text of a value into a field value of type t. Numbers
// are parsed exactly as written; NaN and infinities are refused because line
// protocol cannot carry them.
func convert(s string, t Type, scale float64) (pipeline.Value, error) {
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

func scaled(f, scale float64) (pipeline.Value, error) {
	if scale != 0 {
		f *= scale
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return pipeline.Value{}, errNotFinite
	}
	return pipeline.FloatValue(f), nil
}
