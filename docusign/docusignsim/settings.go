package docusignsim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"strings"
)

// userSettingNames are the scalar properties of userSettingsInformation in the v2.1 spec
// (without the read-only …Metadata companions and sealIdentifiers).
const userSettingNames = " adminOnly allowAutoTagging allowEnvelopeTransferTo allowEsealRecipients " +
	"allowPowerFormsAdminToAccessAllPowerFormEnvelope allowRecipientLanguageSelection allowSendOnBehalfOf " +
	"allowSupplementalDocuments anchorTagVersionedPlacementEnabled apiAccountWideAccess apiCanExportAC bulkSend " +
	"canChargeAccount canEditSharedAddressbook canLockEnvelopes canManageAccount canManageDistributor " +
	"canManageTemplates canSendAPIRequests canSendEnvelope canSendEnvelopesViaSMS canSignEnvelope canUseScratchpad " +
	"canUseSmartContracts disableDocumentUpload disableOtherActions enableDSPro enableKeyTermsSuggestionsByDocumentType " +
	"enableSequentialSigningAPI enableSequentialSigningUI enableSignerAttachments enableSignOnPaperOverride " +
	"enableTransactionPoint enableVaulting expressSendOnly locale manageClickwrapsMode modifiedBy modifiedDate " +
	"modifiedPage newSendUI powerFormMode recipientViewedNotification selfSignedRecipientEmailDocument " +
	"supplementalDocumentIncludeInDownload supplementalDocumentsMustAccept supplementalDocumentsMustRead " +
	"supplementalDocumentsMustView templateActiveCreation templateApplyNotify templateAutoMatching " +
	"templateMatchingSensitivity templatePageLevelMatching timezoneDST timezoneMask timezoneOffset " +
	"timezoneSendingPref timezoneSigningPref transactionPointSiteNameURL transactionPointUserName vaultingMode webForms "

// nestedSettingNames lists the string properties of the object-valued user settings.
func nestedSettingNames(name string) string {
	switch name {
	case "accountManagementGranular":
		return " canManageAccountSecuritySettings canManageAccountSettings canManageAdmins canManageConnect " +
			"canManageDocumentRetention canManageEnvelopeTransfer canManageGroupsButNotUsers canManageReporting " +
			"canManageSharing canManageSigningGroups canManageUsers canViewUsers "
	case "localePolicy":
		return " addressFormat allowRegion calendarType cultureName currencyCode currencyNegativeFormat " +
			"currencyPositiveFormat customDateFormat customSignDateFormat customSignTimeFormat customTimeFormat " +
			"dateFormat effectiveAddressFormat effectiveCalendarType effectiveCurrencyCode " +
			"effectiveCurrencyNegativeFormat effectiveCurrencyPositiveFormat effectiveCustomDateFormat " +
			"effectiveCustomTimeFormat effectiveDateFormat effectiveInitialFormat effectiveNameFormat " +
			"effectiveTimeFormat effectiveTimeZone initialFormat nameFormat signDateFormat signTimeFormat timeFormat timeZone "
	case "senderEmailNotifications":
		return " changedSigner clickwrapResponsesLimitNotificationEmail commentsOnlyPrivateAndMention " +
			"commentsReceiveAll deliveryFailed envelopeComplete offlineSigningFailed " +
			"powerformResponsesLimitNotificationEmail purgeDocuments recipientViewed senderEnvelopeDeclined withdrawnConsent "
	case "signerEmailNotifications":
		return " agentNotification carbonCopyNotification certifiedDeliveryNotification commentsOnlyPrivateAndMention " +
			"commentsReceiveAll documentMarkupActivation envelopeActivation envelopeComplete envelopeCorrected " +
			"envelopeDeclined envelopeVoided faxReceived offlineSigningFailed purgeDocuments reassignedSigner whenSigningGroupMember "
	}
	return ""
}

func listed(names, name string) bool {
	return name != "" && strings.Contains(names, " "+name+" ")
}

// normalizeSettings keeps the known v2.1 user settings of a request and turns their values
// into strings (JSON true → "true", 5 → "5"); unknown names (v2 names included) are dropped
// (assumed: DocuSign ignores them). A JSON null or a non-scalar value for a scalar setting is
// skipped.
func normalizeSettings(raw map[string]json.RawMessage) (map[string]any, error) {
	out := map[string]any{}
	for name, value := range raw {
		if nested := nestedSettingNames(name); nested != "" {
			var obj map[string]json.RawMessage
			if err := json.Unmarshal(value, &obj); err != nil {
				return nil, fmt.Errorf("%s must be an object", name)
			}
			inner := map[string]string{}
			for k, v := range obj {
				if s, ok := scalarString(v); ok && listed(nested, k) {
					inner[k] = s
				}
			}
			if len(inner) > 0 {
				out[name] = inner
			}
			continue
		}
		if !listed(userSettingNames, name) {
			continue
		}
		if s, ok := scalarString(value); ok {
			out[name] = s
		}
	}
	return out, nil
}

// scalarString renders a JSON string, boolean or number as a string.
func scalarString(v json.RawMessage) (string, bool) {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return "", false
	}
	switch v[0] {
	case '"':
		var s string
		if json.Unmarshal(v, &s) != nil {
			return "", false
		}
		return s, true
	case 't', 'f':
		var b bool
		if json.Unmarshal(v, &b) != nil {
			return "", false
		}
		if b {
			return "true", true
		}
		return "false", true
	case 'n', '{', '[':
		return "", false
	default:
		var n json.Number
		if json.Unmarshal(v, &n) != nil {
			return "", false
		}
		return n.String(), true
	}
}

// mergeSettings writes src over dst (nested objects merge key by key).
func mergeSettings(dst, src map[string]any) {
	for k, v := range src {
		if inner, ok := v.(map[string]string); ok {
			cur, _ := dst[k].(map[string]string)
			if cur == nil {
				cur = map[string]string{}
			}
			maps.Copy(cur, inner)
			dst[k] = cur
			continue
		}
		dst[k] = v
	}
}

func cloneSettings(src map[string]any) map[string]any {
	out := make(map[string]any, len(src))
	for k, v := range src {
		if inner, ok := v.(map[string]string); ok {
			out[k] = maps.Clone(inner)
			continue
		}
		out[k] = v
	}
	return out
}
