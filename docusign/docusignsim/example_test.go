package docusignsim_test

import (
	"fmt"
	"log"
	"strings"

	"github.com/jml-sync/docusign-worker/docusign/docusignsim"
)

// ExampleStart runs the demo seed on loopback with a fresh key pair: hand the private key,
// IntegrationKey, AuthURL/AuthHost and AdminURL to the client under test.
func ExampleStart() {
	_, publicPEM, err := docusignsim.GenerateKeyPair()
	if err != nil {
		log.Fatal(err)
	}
	srv, err := docusignsim.Start(docusignsim.Options{PublicKeyPEM: publicPEM, HourlyLimit: 600})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	fmt.Println(srv.IntegrationKey() == docusignsim.DemoIntegrationKey)
	fmt.Println(strings.HasSuffix(srv.AdminURL(), "/management"))
	for _, a := range srv.Info().Accounts {
		fmt.Println(a.Name, "in", a.Environment, a.BaseURI == srv.EnvironmentURL(a.Environment))
	}
	fmt.Println(srv.Dump().Budgets[0].HourlyLimit)
	// Output:
	// true
	// true
	// Example Corp in na2 true
	// Example Europe Ltd in eu true
	// 600
}
