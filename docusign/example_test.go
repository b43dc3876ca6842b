package docusign_test

import (
	"errors"
	"fmt"

	"github.com/jml-sync/docusign-worker/docusign"
)

// A DocuSign error is matched by its code, through any wrapping, never by its message.
func ExampleAPIError() {
	err := fmt.Errorf("create user: %w", &docusign.APIError{
		StatusCode: 429,
		ErrorCode:  "HOURLY_APIINVOCATION_LIMIT_EXCEEDED",
		Message:    "The maximum number of hourly API invocations has been exceeded. The hourly limit is 3000.",
		TraceToken: "5f6a1c2e",
		API:        docusign.APIESignature,
		Operation:  "Users_PostUsers",
	})
	fmt.Println(errors.Is(err, docusign.ErrHourlyLimitExceeded))
	fmt.Println(errors.Is(err, docusign.ErrBurstLimitExceeded))
	fmt.Println(docusign.IsRateLimited(err))

	var apiErr *docusign.APIError
	if errors.As(err, &apiErr) {
		fmt.Println(apiErr.StatusCode, apiErr.TraceToken)
	}
	// Output:
	// true
	// false
	// true
	// 429 5f6a1c2e
}

// A 201 from Users:create can hold failed items; they come back as a *PartialError whose items match the sentinels.
func ExamplePartialError() {
	var err error = &docusign.PartialError{
		API:        docusign.APIESignature,
		Operation:  "Users_PostUsers",
		StatusCode: 201,
		Total:      1,
		Items: []*docusign.ItemError{{
			Index:     0,
			ID:        "e064a4fc",
			ErrorCode: "USER_ALREADY_EXISTS_IN_ACCOUNT",
			Message:   "Username and email combination already exists for this account.",
		}},
	}
	if errors.Is(err, docusign.ErrUserAlreadyExists) {
		fmt.Println("already exists: look the user up instead")
	}
	fmt.Println(err)
	// Output:
	// already exists: look the user up instead
	// docusign: esignature Users_PostUsers: 1 of 1 items failed; item 0 (e064a4fc): USER_ALREADY_EXISTS_IN_ACCOUNT: Username and email combination already exists for this account.
}
