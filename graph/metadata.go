package graph

import (
	_ "embed"
	"net/http"
)

// metadataXML is the service's OData CSDL document (OData 4.0 CSDL XML, part 3 of the standard): the
// Graph types and functions activityd serves, as Graph publishes them, with activityd's extensions.
//
//go:embed metadata.xml
var metadataXML []byte

// serveMetadata answers GET /v1.0/$metadata and /beta/$metadata, without a token as Graph does, so
// that OData tools and code generators can read the types every response's @odata.context names.
func (s *Server) serveMetadata(w http.ResponseWriter, r *http.Request) bool {
	p := r.URL.EscapedPath()
	if p != "/v1.0/$metadata" && p != "/beta/$metadata" && p != "/v1.0/%24metadata" && p != "/beta/%24metadata" {
		return false
	}
	requestInfoFrom(r.Context()).route = "$metadata"
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		s.error(w, r, errorf(http.StatusMethodNotAllowed, "invalidRequest", "The method '%s' is not allowed on $metadata; use GET.", r.Method))
		return true
	}
	h := w.Header()
	h.Set("Content-Type", "application/xml")
	h.Set("OData-Version", "4.0")
	h.Set("Cache-Control", "public, max-age=3600")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		w.Write(metadataXML)
	}
	return true
}
