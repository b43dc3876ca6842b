package openapi_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/jml-sync/docusign-worker/internal/openapi"
)

// A test wraps the client's transport, runs the client, then checks what
// was recorded. With DocuSign's documents the specs come from
// openapi.LoadDocuSignSpecs(dir), dir from openapi.FindSpecDir().
func ExampleNewValidatingTransport() {
	spec, err := openapi.Parse([]byte(`{
	  "swagger": "2.0", "basePath": "/api",
	  "paths": {"/users/{userId}": {"get": {"operationId": "GetUser",
	    "responses": {"200": {"description": "", "schema": {"$ref": "#/definitions/User"}}}}}},
	  "definitions": {"User": {"type": "object", "properties": {"isAdmin": {"type": "string"}}}}
	}`))
	if err != nil {
		panic(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, `{"isAdmin":true}`)
	}))
	defer srv.Close()

	vt := openapi.NewValidatingTransport(srv.Client().Transport, map[string]*openapi.Spec{"/api": spec})
	client := &http.Client{Transport: vt}

	resp, err := client.Get(srv.URL + "/api/users/42?verbose=1")
	if err != nil {
		panic(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()

	fmt.Println("caller got:", strings.TrimSpace(string(body)))
	for _, v := range vt.Violations() {
		fmt.Println(v)
	}
	fmt.Println(vt.Covered())
	// Output:
	// caller got: {"isAdmin":true}
	// openapi: GET /api/users/42 (GetUser) request: query parameter "verbose": not declared
	// openapi: GET /api/users/42 (GetUser) response 200: isAdmin: expected string, got boolean
	// map[GetUser:1]
}
