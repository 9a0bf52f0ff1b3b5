package extract

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/logmetrics/logmetrics/internal/pipeline"
)

func TestConvert(t *testing.T) {
	tests := []struct {
		in      string
		typ     Type
		scale   float64
		want    pipeline.Value
		wantErr bool
	}{
		{in: "142", typ: TypeFloat, scale: 0.001, want: pipeline.FloatValue(0.142)}, // not 0.14200000000000002
		{in: "142", typ: TypeFloat, scale: 1e-9, want: pipeline.FloatValue(1.42e-7)},
		{in: "1.5", typ: TypeFloat, scale: 1000, want: pipeline.FloatValue(1500)},
		{in: "7", typ: TypeFloat, scale: 0.3, want: pipeline.FloatValue(7 * 0.3)},
		{in: "3", typ: TypeFloat, scale: 0.5, want: pipeline.FloatValue(1.5)},
		{in: "250ms", typ: TypeDuration, scale: 1000, want: pipeline.FloatValue(250)},
		{in: "1.5s", typ: TypeDuration, want: pipeline.FloatValue(1.5)},
		{in: "-42", typ: TypeInt, want: pipeline.IntValue(-42)},
		{in: "42", typ: TypeUint, want: pipeline.UintValue(42)},
		{in: "-1", typ: TypeUint, wantErr: true},
		{in: "TRUE", typ: TypeBool, want: pipeline.BoolValue(true)},
		{in: "yes", typ: TypeBool, wantErr: true},
		{in: "", typ: TypeString, want: pipeline.StringValue("")},
		{in: "NaN", typ: TypeFloat, wantErr: true},
		{in: "1e308", typ: TypeFloat, scale: 10, wantErr: true},
		{in: "250", typ: TypeDuration, wantErr: true},
	}
	for _, tc := range tests {
		got, err := convert(tc.in, tc.typ, newScaler(tc.scale))
		if (err != nil) != tc.wantErr {
			t.Errorf("convert(%q, %v, %v) error = %v, want error %v", tc.in, tc.typ, tc.scale, err, tc.wantErr)
			continue
		}
		if err == nil && got != tc.want {
			t.Errorf("convert(%q, %v, %v) = %+v, want %+v", tc.in, tc.typ, tc.scale, got, tc.want)
		}
	}
}

// TestConvertAgreesWithStrconv: the text convert refuses before asking
// strconv (to spare its allocating errors) is text strconv refuses too,
// and it takes what strconv takes.
func TestConvertAgreesWithStrconv(t *testing.T) {
	for _, s := range []string{"-", "+", ".", "", "0", "-0", "+7", "--1", "+-1", "1_000", "0x10", "1e3", " 1", "1 ", "٣",
		"9223372036854775807", "9223372036854775808", "-9223372036854775808", "18446744073709551615", "18446744073709551616", "-", "1.5", "inf", "NaN"} {
		_, ierr := strconv.ParseInt(s, 10, 64)
		_, uerr := strconv.ParseUint(s, 10, 64)
		_, ferr := strconv.ParseFloat(s, 64)
		_, derr := time.ParseDuration(s)
		_, berr := strconv.ParseBool(s)
		for _, c := range []struct {
			typ  Type
			want error
		}{{TypeInt, ierr}, {TypeUint, uerr}, {TypeFloat, ferr}, {TypeDuration, derr}, {TypeBool, berr}} {
			_, err := convert(s, c.typ, scaler{})
			if errors.Is(err, errNotFinite) {
				err = nil // strconv takes it; line protocol does not
			}
			if (err != nil) != (c.want != nil) {
				t.Errorf("convert(%q, %v) error = %v, strconv's %v", s, c.typ, err, c.want)
			}
		}
	}
	if n := testing.AllocsPerRun(10, func() { convert("-", TypeInt, scaler{}); convert("-", TypeFloat, scaler{}) }); n != 0 {
		t.Errorf(`converting "-" made %v allocations, want 0`, n)
	}
}
