package schemas

import (
	"slices"
	"testing"

	"github.com/elimity-com/scim/optional"
	"github.com/elimity-com/scim/schema"
)

// A made-up resource type with what the SCIM catalogue lacks: returned
// "request" attributes and sub-attributes, a returned "never"
// sub-attribute, an integer, and two extensions, one with a required
// attribute, that share an attribute name.
const (
	deviceURN = "urn:example:scim:schemas:Device"
	extAURN   = "urn:example:scim:schemas:extension:a:Device"
	extBURN   = "urn:example:scim:schemas:extension:b:Device"
)

func desc(s string) optional.String { return optional.NewString(s) }

var device = newResourceType("Device", "/Devices", "Device",
	schema.Schema{
		ID: deviceURN, Name: desc("Device"), Description: desc("Device"),
		Attributes: []schema.CoreAttribute{
			schema.SimpleCoreAttribute(schema.SimpleStringParams(schema.StringParams{
				Name: "label", Description: desc("Label."), Required: true,
			})),
			schema.SimpleCoreAttribute(schema.SimpleStringParams(schema.StringParams{
				Name: "serial", Description: desc("Serial."), Returned: schema.AttributeReturnedRequest(),
			})),
			schema.SimpleCoreAttribute(schema.SimpleNumberParams(schema.NumberParams{
				Name: "ports", Description: desc("Ports."), Type: schema.AttributeTypeInteger(),
			})),
			schema.ComplexCoreAttribute(schema.ComplexParams{
				Name: "info", Description: desc("Info."),
				SubAttributes: []schema.SimpleParams{
					schema.SimpleStringParams(schema.StringParams{Name: "model", Description: desc("Model.")}),
					schema.SimpleStringParams(schema.StringParams{Name: "hint", Description: desc("Hint."), Returned: schema.AttributeReturnedRequest()}),
					schema.SimpleStringParams(schema.StringParams{Name: "pin", Description: desc("PIN."), Returned: schema.AttributeReturnedNever(), Mutability: schema.AttributeMutabilityWriteOnly()}),
				},
			}),
		},
	},
	schema.Schema{
		ID: extAURN, Name: desc("A"), Description: desc("A"),
		Attributes: []schema.CoreAttribute{
			schema.SimpleCoreAttribute(schema.SimpleStringParams(schema.StringParams{Name: "owner", Description: desc("Owner."), Required: true})),
			schema.SimpleCoreAttribute(schema.SimpleStringParams(schema.StringParams{Name: "label", Description: desc("Shadowed by the core label.")})),
			schema.SimpleCoreAttribute(schema.SimpleStringParams(schema.StringParams{Name: "site", Description: desc("Site.")})),
		},
	},
	schema.Schema{
		ID: extBURN, Name: desc("B"), Description: desc("B"),
		Attributes: []schema.CoreAttribute{
			schema.SimpleCoreAttribute(schema.SimpleStringParams(schema.StringParams{Name: "owner", Description: desc("Owner.")})),
		},
	},
)

func TestSyntheticLookup(t *testing.T) {
	if a, ok := device.Lookup("label"); !ok || a.Extension {
		t.Errorf("bare label = %+v: want the core attribute", a)
	}
	if a, ok := device.Lookup(extAURN + ":label"); !ok || a.Schema != extAURN {
		t.Errorf("qualified extension label = %+v", a)
	}
	if _, ok := device.Lookup("owner"); ok {
		t.Error("bare owner resolved although two extensions define it")
	}
	if a, ok := device.Lookup("SITE"); !ok || a.Path != extAURN+":site" {
		t.Errorf("bare site = %+v", a)
	}
	if a, ok := device.Lookup(extBURN + ".owner"); !ok || a.Schema != extBURN {
		t.Errorf("dotted-URN owner = %+v", a)
	}
}

func TestSyntheticNormalize(t *testing.T) {
	got, err := Normalize(device, decode(t, `{"label":"l","ports":8,"owner":"x","`+extAURN+`:owner":"o","`+extBURN+`":{"owner":"p"}}`), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got["ports"] != int64(8) {
		t.Errorf("ports = %#v, want int64(8)", got["ports"])
	}
	jsonEqual(t, got, `{"label":"l","ports":8,"`+extAURN+`":{"owner":"o"},"`+extBURN+`":{"owner":"p"}}`)

	_, err = Normalize(device, decode(t, `{"label":"l","ports":8.5}`), Options{Lenient: true})
	scimErr(t, err, InvalidValue)
	got, err = Normalize(device, decode(t, `{"label":"l","ports":"8"}`), Options{Lenient: true})
	if err != nil || got["ports"] != int64(8) {
		t.Errorf("lenient ports: %v, %v", got, err)
	}
}

func TestSyntheticMissingRequired(t *testing.T) {
	if got := MissingRequired(device, map[string]any{}); !slices.Equal(got, []string{"label", extAURN + ":owner"}) {
		t.Errorf("MissingRequired({}) = %v", got)
	}
	doc := map[string]any{"label": "l", extAURN: map[string]any{"owner": "o"}}
	if got := MissingRequired(device, doc); got != nil {
		t.Errorf("MissingRequired(complete) = %v", got)
	}
	doc = map[string]any{"label": "l", extBURN: map[string]any{"owner": "o"}}
	if got := MissingRequired(device, doc); !slices.Equal(got, []string{extAURN + ":owner"}) {
		t.Errorf("MissingRequired(owner in the wrong extension) = %v", got)
	}
}

func TestSyntheticProjectReturned(t *testing.T) {
	const doc = `{"schemas":["` + deviceURN + `"],"id":"d1","label":"l","serial":"S1",
	  "info":{"model":"M","hint":"H","pin":"1234"},"` + extAURN + `":{"owner":"o"}}`
	const sch = `"schemas":["` + deviceURN + `"],"id":"d1"`
	tests := []struct {
		attributes, excluded []string
		want                 string
	}{
		{nil, nil, `{` + sch + `,"label":"l","info":{"model":"M"},"` + extAURN + `":{"owner":"o"}}`},
		{[]string{"serial"}, nil, `{` + sch + `,"serial":"S1"}`},
		{[]string{"info"}, nil, `{` + sch + `,"info":{"model":"M","hint":"H"}}`},
		{[]string{"info.hint"}, nil, `{` + sch + `,"info":{"hint":"H"}}`},
		{[]string{"info.pin"}, nil, `{` + sch + `}`},
		{[]string{"info.pin", "info.model"}, nil, `{` + sch + `,"info":{"model":"M"}}`},
		{[]string{deviceURN}, nil, `{` + sch + `,"label":"l","serial":"S1","info":{"model":"M","hint":"H"}}`},
		{nil, []string{"info.model"}, `{` + sch + `,"label":"l","` + extAURN + `":{"owner":"o"}}`},
		{[]string{"info"}, []string{"info.hint"}, `{` + sch + `,"info":{"model":"M"}}`},
		{[]string{"serial", "label"}, []string{"serial"}, `{` + sch + `,"label":"l"}`},
	}
	for _, tc := range tests {
		got, err := Project(device, decode(t, doc), tc.attributes, tc.excluded)
		if err != nil {
			t.Fatal(err)
		}
		jsonEqual(t, got, tc.want)
	}

	p, _ := NewProjection(device, nil, nil)
	if p.Wants("serial") || p.Wants("info.hint") || p.Wants("info.pin") || !p.Wants("info") || !p.Wants("info.model") {
		t.Error("default Wants")
	}
	p, _ = NewProjection(device, []string{"serial", "info"}, nil)
	if !p.Wants("serial") || !p.Wants("info.hint") || p.Wants("info.pin") || p.Wants("label") {
		t.Error("Wants with attributes=serial,info")
	}
}

func TestSyntheticWants(t *testing.T) {
	tests := []struct {
		attributes, excluded []string
		path                 string
		want                 bool
	}{
		{nil, nil, "serial", false},
		{nil, nil, "info", true},
		{nil, nil, "info.model", true},
		{nil, nil, "info.hint", false}, // returned "request": Apply drops it
		{nil, nil, "info.pin", false},
		{[]string{"serial"}, nil, "serial", true},
		{[]string{"info"}, nil, "info.hint", true},
		{[]string{"info"}, nil, "info.pin", false},
		{[]string{"info.hint"}, nil, "info.hint", true},
		{[]string{"info.hint"}, nil, "info.model", false},
		{[]string{"info"}, []string{"info.hint"}, "info.hint", false},
		{[]string{"info"}, []string{"info.hint"}, "info.model", true},
		{nil, []string{"info"}, "info.model", false},
		{[]string{"label"}, nil, "info", false},
		{[]string{extAURN}, nil, "site", true},
		{[]string{extAURN}, nil, extBURN + ":owner", false},
	}
	for _, tc := range tests {
		p, err := NewProjection(device, tc.attributes, tc.excluded)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Wants(tc.path); got != tc.want {
			t.Errorf("attributes=%v excluded=%v: Wants(%q) = %v, want %v", tc.attributes, tc.excluded, tc.path, got, tc.want)
		}
	}
}
