package extract

import (
	"testing"

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
