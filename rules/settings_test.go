package rules

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/jml-sync/docusign-worker/internal/openapi"
	"github.com/stretchr/testify/require"
)

// TestUserSettingsFromOpenAPI: the settings list is the string properties of userSettingsInformation, minus the
// Metadata companions and the read-only ones; the other lists name the rest.
func TestUserSettingsFromOpenAPI(t *testing.T) {
	t.Parallel()

	data, err := openapi.DocuSignSpecFile(openapi.ESignatureSpecFile)
	require.NoError(t, err)
	var spec struct {
		Definitions map[string]struct {
			Properties map[string]struct {
				Type string `json:"type"`
			} `json:"properties"`
		} `json:"definitions"`
	}
	require.NoError(t, json.Unmarshal(data, &spec))
	props := spec.Definitions["userSettingsInformation"].Properties
	require.NotEmpty(t, props)

	var str, other []string
	for name, p := range props {
		switch {
		case strings.HasSuffix(name, "Metadata"):
		case p.Type != "string":
			other = append(other, name)
		case !slices.Contains(readOnlySettings, name):
			str = append(str, name)
		}
	}
	slices.Sort(str)
	slices.Sort(other)
	require.Equal(t, str, userSettings)
	require.Equal(t, other, nonStringSettings)
	for _, name := range readOnlySettings {
		require.Equal(t, "string", props[name].Type, name)
	}
}

// TestUserSettingsInSchema: the schema's settings enum is the same list.
func TestUserSettingsInSchema(t *testing.T) {
	t.Parallel()

	require.True(t, slices.IsSorted(userSettings))
	var schema struct {
		Defs map[string]struct {
			AnyOf []struct {
				PropertyNames struct {
					Enum []string `json:"enum"`
				} `json:"propertyNames"`
			} `json:"anyOf"`
		} `json:"$defs"`
	}
	require.NoError(t, json.Unmarshal(SchemaJSON(), &schema))
	anyOf := schema.Defs["settings"].AnyOf
	require.Len(t, anyOf, 2)
	require.Equal(t, userSettings, anyOf[1].PropertyNames.Enum)
	for _, name := range userSettings {
		require.True(t, isUserSetting(name))
	}
	require.False(t, isUserSetting("localeMetadata"))
	require.False(t, isUserSetting("Locale"))
}
