package graph

import (
	"encoding/xml"
	"slices"
	"testing"
)

// TestMetadata_MatchesWire: the CSDL document names exactly the properties that the decoder reads
// for each type (and the encoder writes), so that $metadata and the wire cannot drift apart.
func TestMetadata_MatchesWire(t *testing.T) {
	var doc struct {
		Schemas []struct {
			Namespace string `xml:"Namespace,attr"`
			Types     []struct {
				Name       string `xml:"Name,attr"`
				Properties []struct {
					Name string `xml:"Name,attr"`
				} `xml:"Property"`
				Navigation []struct {
					Name string `xml:"Name,attr"`
				} `xml:"NavigationProperty"`
			} `xml:",any"`
		} `xml:"DataServices>Schema"`
	}
	if err := xml.Unmarshal(metadataXML, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Schemas) != 1 || doc.Schemas[0].Namespace != "microsoft.graph" {
		t.Fatalf("schemas: %+v", doc.Schemas)
	}
	props := map[string][]string{}
	for _, ty := range doc.Schemas[0].Types {
		for _, p := range ty.Properties {
			props[ty.Name] = append(props[ty.Name], p.Name)
		}
		for _, p := range ty.Navigation {
			props[ty.Name] = append(props[ty.Name], p.Name)
		}
	}
	withID := func(names ...string) []string { return append([]string{"id"}, names...) }
	for name, want := range map[string][]string{
		"userActivity":        activityProps,
		"activityHistoryItem": historyItemProps,
		"visualInfo":          visualInfoProps,
		"imageInfo":           imageInfoProps,
	} {
		got := props[name]
		if name == "userActivity" || name == "activityHistoryItem" {
			got = withID(got...) // from graph.entity
		}
		slices.Sort(got)
		want = slices.Sorted(slices.Values(want))
		if !slices.Equal(got, want) {
			t.Errorf("%s in $metadata: %v; the wire: %v", name, got, want)
		}
	}
}
