// Package openapi checks HTTP traffic against a Swagger 2.0 (OpenAPI 2)
// document. Tests use it to hold the DocuSign client and the DocuSign
// simulator to DocuSign's published contract: every request the client sends
// and every reply the simulator gives is validated against the OpenAPI files
// in ../shared/docusign-openapi (see [FindSpecDir]), or the copies embedded in
// specs/ ([DocuSignSpecs]).
//
// # What is checked
//
// A request: an operation exists for the method and path (literal path
// segments win over templated ones, so /users/profile is not /users/{userId});
// every query parameter is declared, required ones are present and integer or
// boolean ones parse; a body is sent only when the operation takes one, is
// present when the body parameter is required, and matches the body schema.
//
// A response: a declared status is checked against its schema (or the
// `default` response). An undeclared 2xx or 3xx status is a violation. An
// undeclared error status (≥ 400) is accepted with an empty body or with a
// documented error body: the operation's own error schema when it declares
// one (eSignature declares errorDetails on 400), otherwise one of the two
// DocuSign error shapes, {"errorCode","message"} (eSignature, rate limits) or
// {"error","error_description"} (Admin API, OAuth), with no other fields.
// An empty body where a schema is declared is a violation unless the schema is
// a free-form object ({"type":"object"} without properties). A non-empty body
// where the response declares no schema is a violation.
//
// A JSON body is matched against its schema strictly:
//   - types are exact: a JSON boolean where the schema says "string" is a
//     violation (the eSignature API declares most booleans and numbers as
//     strings, and the client must send "true", not true);
//   - integers must be whole numbers within the range of their format
//     (int32, int64); string formats (uuid, date-time, uri) are not checked;
//   - required properties must be present and not null; a null optional
//     property counts as absent (DocuSign sends "nextUri": null);
//   - properties not declared by the schema are violations unless
//     additionalProperties allows them; an object schema that declares no
//     properties at all is free-form;
//   - enum lists are enforced (only the Admin API declares them, on
//     asset-group and redaction objects; DocuSign lists most allowed values in
//     prose, which is not checked);
//   - a readOnly property sent in a request is a violation;
//   - $ref (#/definitions, #/parameters, #/responses) is resolved lazily and
//     cached; allOf members are merged; a reference that leads nowhere or
//     cycles is reported ("schema error: ...") when a value reaches it.
//
// Violation details name the JSON path of the offending value, for example
// "newUsers[0].userSettings.canSendEnvelope: expected string, got boolean".
//
// # Use in tests
//
// Wrap an http.Client's transport with [NewValidatingTransport], mapping URL
// path prefixes to specs (see [LoadDocuSignSpecs]), run the client, then
// require that [ValidatingTransport.Err] is nil and inspect
// [ValidatingTransport.Covered]. A request that matches no operation is
// recorded once; its response is not checked. A reply whose body cannot be
// read (dropped connection) reaches the caller with the same read error and
// is not recorded.
package openapi
