package openapi

import (
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const (
	testOrg     = "/v2/organizations/9c5fb8e1-0000-0000-0000-000000000001"
	testAccount = "/v2.1/accounts/a4ec37d6-0000-0000-0000-0000000000aa"
)

func TestValidateRequestDocuSign(t *testing.T) {
	t.Parallel()
	admin, esign := mustDocuSignSpecs(t)

	for _, tt := range []struct {
		name   string
		spec   *Spec
		method string
		path   string
		query  url.Values
		body   string
		wantOp string   // operationId on every violation ("" when no operation matched)
		want   []string // exact violation details; none means valid
	}{
		{
			name: "eSignature Users:create", spec: esign, method: "POST", path: testAccount + "/users",
			body: `{"newUsers":[{"userName":"Ada Lovelace","email":"ada@example.com","permissionProfileId":"12",
				"groupList":[{"groupId":"7"}],"userSettings":{"canSendEnvelope":"true","locale":"en"}}]}`,
		},
		{
			name: "eSignature boolean where the spec says string", spec: esign, method: "POST", path: testAccount + "/users",
			body:   `{"newUsers":[{"userName":"Ada","email":"ada@example.com","userSettings":{"canSendEnvelope":true}}]}`,
			wantOp: "Users_PostUsers",
			want:   []string{"newUsers[0].userSettings.canSendEnvelope: expected string, got boolean"},
		},
		{
			name: "eSignature unknown field", spec: esign, method: "POST", path: testAccount + "/users",
			body:   `{"newUsers":[{"userName":"Ada","email":"ada@example.com","canSendEnvelope":"true"}]}`,
			wantOp: "Users_PostUsers",
			want:   []string{"newUsers[0].canSendEnvelope: unknown field (not in userInformation)"},
		},
		{
			name: "eSignature v2 field name", spec: esign, method: "POST", path: testAccount + "/users",
			body:   `{"newUsers":[{"userName":"Ada","email":"ada@example.com","userSettings":[{"name":"canSendEnvelope","value":"true"}]}]}`,
			wantOp: "Users_PostUsers",
			want:   []string{"newUsers[0].userSettings: expected object, got array"},
		},
		{
			name: "eSignature Users:list query", spec: esign, method: "GET", path: testAccount + "/users",
			query: url.Values{"email": {"ada@example.com"}, "additional_info": {"true"}, "status": {"Active"},
				"start_position": {"0"}, "count": {"100"}},
		},
		{
			name: "unknown query parameter", spec: esign, method: "GET", path: testAccount + "/users",
			query: url.Values{"email": {"ada@example.com"}, "include_everything": {"true"}}, wantOp: "Users_GetUsers",
			want: []string{`query parameter "include_everything": not declared`},
		},
		{
			name: "eSignature Users:delete with a body", spec: esign, method: "DELETE", path: testAccount + "/users",
			query: url.Values{"delete": {"true"}},
			body:  `{"users":[{"userId":"u-1"}]}`,
		},
		{
			name: "Admin create user", spec: admin, method: "POST", path: testOrg + "/users",
			body: `{"email":"ada@example.com","user_name":"Ada","auto_activate_memberships":true,
				"accounts":[{"id":"a4ec37d6-0000-0000-0000-0000000000aa","permission_profile":{"id":9223372036854775807},
				"groups":[{"id":5}]}]}`,
		},
		{
			name: "Admin create user without accounts", spec: admin, method: "POST", path: testOrg + "/users",
			body: `{"email":"ada@example.com"}`, wantOp: "OrganizationUser_Users_AddV2",
			want: []string{"accounts: required field missing (NewUserRequest)"},
		},
		{
			name: "Admin create user without email, null counts as absent", spec: admin, method: "POST", path: testOrg + "/users",
			body: `{"email":null,"accounts":[{"id":"a"}]}`, wantOp: "OrganizationUser_Users_AddV2",
			want: []string{"email: required field missing (NewUserRequest)"},
		},
		{
			name: "Admin string where the spec says int64", spec: admin, method: "POST", path: testOrg + "/users",
			body:   `{"email":"ada@example.com","accounts":[{"id":"a","permission_profile":{"id":"12"},"groups":[{"id":1.5}]}]}`,
			wantOp: "OrganizationUser_Users_AddV2",
			want: []string{
				"accounts[0].groups[0].id: expected integer, got number 1.5",
				"accounts[0].permission_profile.id: expected integer, got string",
			},
		},
		{
			name: "Admin int64 out of range", spec: admin, method: "POST", path: testOrg + "/users",
			body:   `{"email":"ada@example.com","accounts":[{"id":"a","permission_profile":{"id":9223372036854775808}}]}`,
			wantOp: "OrganizationUser_Users_AddV2",
			want:   []string{"accounts[0].permission_profile.id: 9223372036854775808 is out of range for int64"},
		},
		{
			name: "Admin body required", spec: admin, method: "POST", path: testOrg + "/users",
			wantOp: "OrganizationUser_Users_AddV2", want: []string{"body required (request), none sent"},
		},
		{
			name: "Admin close memberships, DELETE with a body", spec: admin, method: "DELETE",
			path: "/management" + testOrg + "/users/u-1/accounts", body: `{"accounts":[{"id":"a"}]}`,
		},
		{
			name: "Admin users list paging", spec: admin, method: "GET", path: testOrg + "/users",
			query: url.Values{"email": {"ada@example.com"}, "start": {"0"}, "take": {"20"}, "include_ds_groups": {"true"}},
		},
		{
			name: "Admin query types", spec: admin, method: "GET", path: testOrg + "/users",
			query:  url.Values{"take": {"3000000000"}, "start": {"x"}, "include_ds_groups": {"yes"}},
			wantOp: "OrganizationUser_OrganizationUsers_GetV2",
			want: []string{
				`query parameter "include_ds_groups": "yes" is not a boolean (true or false)`,
				`query parameter "start": "x" is not an integer (int32)`,
				`query parameter "take": "3000000000" is not an integer (int32)`,
			},
		},
		{
			name: "body on an operation without one", spec: admin, method: "GET", path: "/v2/organizations", body: `{}`,
			wantOp: "Organization_Organization_GetListV2", want: []string{"body sent, but the operation takes none"},
		},
		{
			name: "body not JSON", spec: admin, method: "POST", path: testOrg + "/users", body: `{"email":`,
			wantOp: "OrganizationUser_Users_AddV2", want: []string{"(root): body is not JSON: unexpected EOF"},
		},
		{
			name: "body with trailing data", spec: admin, method: "POST", path: testOrg + "/users",
			body: `{"email":"a","accounts":[]} {}`, wantOp: "OrganizationUser_Users_AddV2",
			want: []string{"(root): body is not JSON: data after the JSON value"},
		},
		{
			name: "unknown path", spec: admin, method: "GET", path: testOrg + "/nonsense",
			want: []string{"no operation matches the path: " + testOrg + "/nonsense"},
		},
		{
			name: "unknown method on a known path", spec: admin, method: "PUT", path: "/v2/organizations",
			want: []string{"method not declared for the path: PUT /v2/organizations (template /v2/organizations)"},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			body := []byte(tt.body)
			if tt.body == "" {
				body = nil
			}
			vs := tt.spec.ValidateRequest(tt.method, tt.path, tt.query, body)
			if len(tt.want) == 0 {
				require.Empty(t, vs)
				return
			}
			require.Equal(t, tt.want, details(vs))
			for _, v := range vs {
				require.Equal(t, DirRequest, v.Direction)
				require.Equal(t, tt.wantOp, v.OperationID)
				require.Equal(t, strings.ToUpper(tt.method), v.Method)
				require.Equal(t, tt.path, v.Path)
				require.Contains(t, v.Error(), v.Detail)
			}
		})
	}
}

func TestValidateResponseDocuSign(t *testing.T) {
	t.Parallel()
	admin, esign := mustDocuSignSpecs(t)
	const organizations = `{"organizations":[{"id":"9c5fb8e1-0000-0000-0000-000000000001","name":"Example Corp",
		"default_account_id":"a4ec37d6-0000-0000-0000-0000000000aa","default_permission_profile_id":12,
		"accounts":[{"id":"a4ec37d6-0000-0000-0000-0000000000aa","name":"Example","site_id":1}],
		"links":[{"rel":"self","href":"https://api-d.docusign.net/management/v2/organizations/9c5fb8e1"}]}]}`

	for _, tt := range []struct {
		name   string
		spec   *Spec
		method string
		path   string
		status int
		body   string
		want   []string
	}{
		{name: "Admin organizations", spec: admin, method: "GET", path: "/v2/organizations", status: 200, body: organizations},
		{
			name: "Admin organizations with an extra field", spec: admin, method: "GET", path: "/v2/organizations", status: 200,
			body: strings.Replace(organizations, `"name":"Example Corp"`, `"name":"Example Corp","region":"eu"`, 1),
			want: []string{"organizations[0].region: unknown field (not in OrganizationResponse)"},
		},
		{
			name: "Admin int32 out of range", spec: admin, method: "GET", path: "/v2/organizations", status: 200,
			body: `{"organizations":[{"accounts":[{"site_id":2147483648}]}]}`,
			want: []string{"organizations[0].accounts[0].site_id: 2147483648 is out of range for int32"},
		},
		{
			name: "Admin users paging, nulls count as absent", spec: admin, method: "GET", path: testOrg + "/users", status: 200,
			body: `{"users":[{"id":"u","email":"a@example.com","is_managed_by_scim":false}],
				"paging":{"result_set_size":1,"total_set_size":1,"next":null}}`,
		},
		{
			name: "Admin empty body where a schema is declared", spec: admin, method: "GET", path: "/v2/organizations",
			status: 200, want: []string{"empty body, the response declares a schema"},
		},
		{
			name: "Admin free-form object may be empty", spec: admin, method: "DELETE",
			path: testOrg + "/exports/user_list/e-1", status: 200,
		},
		{
			name: "Admin 204 with a body", spec: admin, method: "DELETE",
			path: "/v2.1/organizations/o/accounts/a/dsgroups/g", status: 204, body: `{}`,
			want: []string{"the response declares no body, got 2 bytes"},
		},
		{
			name: "Admin undeclared 2xx", spec: admin, method: "GET", path: "/v2/organizations", status: 201, body: organizations,
			want: []string{"status 201 not declared (declared: 200)"},
		},
		{
			name: "Admin error body", spec: admin, method: "GET", path: "/v2/organizations", status: 401,
			body: `{"error":"unauthorized","error_description":"Not Authorized"}`,
		},
		{
			name: "Admin rate limit in the eSignature shape", spec: admin, method: "GET", path: "/v2/organizations", status: 429,
			body: `{"errorCode":"HOURLY_APIINVOCATION_LIMIT_EXCEEDED","message":"The maximum number of hourly API invocations has been exceeded. The hourly limit is 3000."}`,
		},
		{name: "Admin error without a body", spec: admin, method: "GET", path: "/v2/organizations", status: 503},
		{
			name: "Admin undocumented error shape", spec: admin, method: "GET", path: "/v2/organizations", status: 400,
			body: `{"error":"bad","message":"x"}`,
			want: []string{
				"error_description: required field missing (Admin API error)",
				"message: unknown field (not in Admin API error)",
			},
		},
		{
			name: "Admin error body not JSON", spec: admin, method: "GET", path: "/v2/organizations", status: 502,
			body: `<html>bad gateway</html>`, want: []string{"(root): error body is not JSON: invalid character '<' looking for beginning of value"},
		},
		{
			name: "eSignature Users:create per-item error", spec: esign, method: "POST", path: testAccount + "/users", status: 201,
			body: `{"newUsers":[{"userId":"u-1","email":"a@example.com","userStatus":"ActivationSent"},
				{"email":"b@example.com","errorDetails":{"errorCode":"USER_ALREADY_EXISTS_IN_ACCOUNT","message":"exists"}}]}`,
		},
		{
			name: "eSignature number where the spec says string", spec: esign, method: "GET", path: testAccount + "/users", status: 200,
			body: `{"users":[],"resultSetSize":0,"nextUri":null}`,
			want: []string{"resultSetSize: expected string, got number"},
		},
		{
			name: "eSignature undeclared 429 uses the declared errorDetails", spec: esign, method: "GET",
			path: testAccount + "/users/u-1", status: 429,
			body: `{"errorCode":"BURST_APIINVOCATION_LIMIT_EXCEEDED","message":"The maximum number of burst API invocations has been exceeded. The burst limit is 500."}`,
		},
		{
			name: "eSignature Admin-shaped error", spec: esign, method: "GET", path: testAccount + "/users/u-1", status: 401,
			body: `{"error":"unauthorized"}`, want: []string{"error: unknown field (not in errorDetails)"},
		},
		{
			name: "unknown path", spec: esign, method: "GET", path: "/v2.1/nonsense", status: 404,
			want: []string{"no operation matches the path: /v2.1/nonsense"},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			vs := tt.spec.ValidateResponse(tt.method, tt.path, tt.status, []byte(tt.body))
			if len(tt.want) == 0 {
				require.Empty(t, vs)
				return
			}
			require.Equal(t, tt.want, details(vs))
			for _, v := range vs {
				require.Equal(t, DirResponse, v.Direction)
				require.Equal(t, tt.status, v.Status)
			}
		})
	}
}

// schemaDoc exercises the schema features the DocuSign documents use rarely
// or not at all.
const schemaDoc = `{
  "swagger": "2.0",
  "basePath": "/api",
  "parameters": {"Thing": {"name": "thing", "in": "body", "required": true, "schema": {"$ref": "#/definitions/Thing"}},
                 "Limit": {"name": "limit", "in": "query", "required": true, "type": "integer", "format": "int32"}},
  "responses": {"Plain": {"description": "ok", "schema": {"$ref": "#/definitions/Base"}}},
  "paths": {
    "/things": {
      "parameters": [{"$ref": "#/parameters/Limit"}],
      "post": {"operationId": "PostThing", "parameters": [{"$ref": "#/parameters/Thing"}],
               "responses": {"200": {"$ref": "#/responses/Plain"}, "default": {"description": "e", "schema": {"$ref": "#/definitions/Base"}}}}
    },
    "/loops": {"get": {"operationId": "GetLoop", "responses": {"200": {"description": "", "schema": {"$ref": "#/definitions/LoopA"}}}}}
  },
  "definitions": {
    "Base": {"type": "object", "required": ["id"], "properties": {"id": {"type": "string", "readOnly": true}}},
    "Thing": {"allOf": [{"$ref": "#/definitions/Base"},
      {"type": "object", "required": ["kind"], "properties": {
        "kind": {"type": "string", "enum": ["a", "b"]},
        "level": {"type": "integer", "format": "int32", "enum": [0, 1]},
        "ratio": {"type": "number"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "extra": {"type": "object", "properties": {"x": {"type": "string"}}, "additionalProperties": true},
        "closed": {"type": "object", "additionalProperties": false},
        "free": {"type": "object"},
        "tags": {"type": "array", "items": {"type": "boolean"}}}}]},
    "LoopA": {"$ref": "#/definitions/LoopB"},
    "LoopB": {"$ref": "#/definitions/LoopA"}
  }
}`

func TestValidateSchemaFeatures(t *testing.T) {
	t.Parallel()
	s := mustParse(t, schemaDoc)
	limit := url.Values{"limit": {"10"}}

	for _, tt := range []struct {
		name  string
		query url.Values
		body  string
		want  []string
	}{
		{name: "valid, allOf merged, readOnly id may be left out", query: limit,
			body: `{"kind":"a","level":1,"ratio":0.5,"labels":{"k":"v"},"extra":{"x":"1","y":2},"free":{"any":[1]},"tags":[true]}`},
		{name: "enum", query: limit, body: `{"kind":"c","level":2}`, want: []string{
			`kind: value "c" is not one of the enum values ["a", "b"]`,
			"level: value 2 is not one of the enum values [0, 1]",
		}},
		{name: "required from an allOf member", query: limit, body: `{}`, want: []string{
			"kind: required field missing (Thing)",
		}},
		{name: "readOnly sent in a request", query: limit, body: `{"kind":"a","id":"x"}`, want: []string{
			"id: read-only field sent in a request (Thing)",
		}},
		{name: "additionalProperties schema and false", query: limit,
			body: `{"kind":"a","labels":{"k":1},"closed":{"z":"1"}}`, want: []string{
				"closed.z: unknown field (not in inline schema)",
				"labels.k: expected string, got number",
			}},
		{name: "array items and root type", query: limit, body: `{"kind":"a","tags":["yes"],"ratio":"1"}`, want: []string{
			"ratio: expected number, got string",
			"tags[0]: expected boolean, got string",
		}},
		{name: "root is not an object", query: limit, body: `[]`, want: []string{"(root): expected object, got array"}},
		{name: "path-level query parameter required", body: `{"kind":"a"}`, want: []string{
			`query parameter "limit": required, missing`,
		}},
		{name: "body parameter from #/parameters is required", query: limit, want: []string{
			"body required (thing), none sent",
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var body []byte
			if tt.body != "" {
				body = []byte(tt.body)
			}
			vs := s.ValidateRequest("POST", "/api/things", tt.query, body)
			require.Equal(t, tt.want, nilIfEmpty(details(vs)))
		})
	}

	t.Run("responses", func(t *testing.T) {
		t.Parallel()
		// #/responses reference; the readOnly id is required in a response.
		require.Equal(t, []string{"id: required field missing (Base)"},
			details(s.ValidateResponse("POST", "/things", 200, []byte(`{}`))))
		// "default" covers undeclared statuses.
		require.Empty(t, s.ValidateResponse("POST", "/things", 500, []byte(`{"id":"x"}`)))
		require.Equal(t, []string{"code: unknown field (not in Base)"},
			details(s.ValidateResponse("POST", "/things", 409, []byte(`{"id":"x","code":1}`))))
	})

	t.Run("reference cycle", func(t *testing.T) {
		t.Parallel()
		vs := s.ValidateResponse("GET", "/loops", 200, []byte(`{}`))
		require.Len(t, vs, 1)
		require.Contains(t, vs[0].Detail, "$ref cycle")
	})
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}
