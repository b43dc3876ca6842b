package rules

import "slices"

// userSettings lists the eSignature v2.1 user settings a rules file may set, sorted: the string-typed property
// names of definitions.userSettingsInformation in DocuSign's OpenAPI file esignature.rest.swagger-v2.1.json (found
// as internal/openapi finds it; settings_test.go checks this list against it). Left out: the "...Metadata"
// companions (read-only descriptions of each setting), the bookkeeping DocuSign writes itself (readOnlySettings)
// and the properties that are objects or arrays (nonStringSettings), since rule settings are strings.
var userSettings = []string{ //nolint:gochecknoglobals // read-only table from the OpenAPI file
	"adminOnly",
	"allowAutoTagging",
	"allowEnvelopeTransferTo",
	"allowEsealRecipients",
	"allowPowerFormsAdminToAccessAllPowerFormEnvelope",
	"allowRecipientLanguageSelection",
	"allowSendOnBehalfOf",
	"allowSupplementalDocuments",
	"anchorTagVersionedPlacementEnabled",
	"apiAccountWideAccess",
	"apiCanExportAC",
	"bulkSend",
	"canChargeAccount",
	"canEditSharedAddressbook",
	"canLockEnvelopes",
	"canManageAccount",
	"canManageDistributor",
	"canManageTemplates",
	"canSendAPIRequests",
	"canSendEnvelope",
	"canSendEnvelopesViaSMS",
	"canSignEnvelope",
	"canUseScratchpad",
	"canUseSmartContracts",
	"disableDocumentUpload",
	"disableOtherActions",
	"enableDSPro",
	"enableKeyTermsSuggestionsByDocumentType",
	"enableSequentialSigningAPI",
	"enableSequentialSigningUI",
	"enableSignOnPaperOverride",
	"enableSignerAttachments",
	"enableTransactionPoint",
	"enableVaulting",
	"expressSendOnly",
	"locale",
	"manageClickwrapsMode",
	"newSendUI",
	"powerFormMode",
	"recipientViewedNotification",
	"selfSignedRecipientEmailDocument",
	"supplementalDocumentIncludeInDownload",
	"supplementalDocumentsMustAccept",
	"supplementalDocumentsMustRead",
	"supplementalDocumentsMustView",
	"templateActiveCreation",
	"templateApplyNotify",
	"templateAutoMatching",
	"templateMatchingSensitivity",
	"templatePageLevelMatching",
	"timezoneDST",
	"timezoneMask",
	"timezoneOffset",
	"timezoneSendingPref",
	"timezoneSigningPref",
	"transactionPointSiteNameURL",
	"transactionPointUserName",
	"vaultingMode",
	"webForms",
}

// nonStringSettings are the userSettingsInformation properties that are objects or arrays, named in the error a
// rules file gets when it sets one.
var nonStringSettings = []string{ //nolint:gochecknoglobals // read-only table from the OpenAPI file
	"accountManagementGranular",
	"localePolicy",
	"sealIdentifiers",
	"senderEmailNotifications",
	"signerEmailNotifications",
}

// readOnlySettings are the userSettingsInformation properties DocuSign writes itself.
var readOnlySettings = []string{"modifiedBy", "modifiedDate", "modifiedPage"} //nolint:gochecknoglobals // read-only table

// isUserSetting reports whether name is a settable user setting (exact spelling).
func isUserSetting(name string) bool {
	_, ok := slices.BinarySearch(userSettings, name)
	return ok
}
