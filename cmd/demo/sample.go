package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jml-sync/docusign-worker/docusign/docusignsim"
	"github.com/jml-sync/docusign-worker/events"
	"github.com/jml-sync/docusign-worker/jobs"
)

// sampleSource is the CloudEvents source of the demo's HR events.
const sampleSource = "hris://demo.example.com/workday"

// sampleEvents returns the demo's HR events as JSONL lines, timed around
// now, in two batches as HR would send them over time: first four joiners,
// two movers and a joiner without an email (dead-lettered); then a leaver
// and a leaver effective in 30 days (scheduled).
func sampleEvents(now time.Time) (first, second []string) {
	na2, eu := docusignsim.DemoAccountNA2, docusignsim.DemoAccountEU
	type person struct{ id, first, last, title string }
	ada := person{"E2001", "Ada", "Lovelace", "Analyst"}
	grace := person{"E2002", "Grace", "Hopper", "Engineer"}
	linus := person{"E2003", "Linus", "Torvalds", "Accountant"}
	kath := person{"E2004", "Katherine", "Johnson", "Associate"}
	data := func(p person, accounts ...jobs.Membership) events.Data {
		return events.Data{EmployeeID: p.id, Email: strings.ToLower(p.first+"."+p.last) + "@" + docusignsim.DemoClaimedDomain,
			FirstName: p.first, LastName: p.last, JobTitle: p.title, Department: "Operations", Accounts: accounts}
	}
	m := func(account, profile string, groups ...string) jobs.Membership {
		return jobs.Membership{AccountID: account, PermissionProfile: profile, Groups: groups}
	}
	var lines []string
	n := 0
	add := func(typ string, at time.Time, d events.Data) {
		n++
		ev := events.Event{ID: fmt.Sprintf("demo-%d-%03d", now.Unix(), n), Source: sampleSource, Type: typ, Subject: d.EmployeeID,
			Time: at, DataContentType: "application/json", Data: d}
		raw, err := ev.Encode()
		if err != nil {
			panic(err) // static data
		}
		lines = append(lines, string(raw))
	}
	t0 := now.Add(-10 * time.Minute).Truncate(time.Second)
	add(events.TypeJoined, t0, data(ada, m(na2, "DocuSign Sender", "Sales"), m(eu, "DocuSign Viewer")))
	add(events.TypeJoined, t0, data(grace, m(na2, "DocuSign Sender", "Engineering")))
	add(events.TypeJoined, t0, data(linus, m(eu, "DocuSign Viewer", "Finance")))
	add(events.TypeJoined, t0, data(kath, m(na2, "DocuSign Viewer")))
	// Movers: Grace moves to Finance as a manager; Katherine becomes a sender.
	grace.title = "Engineering Manager"
	add(events.TypeUpdated, t0.Add(5*time.Minute), data(grace, m(na2, "DocuSign Sender", "Engineering", "Finance")))
	add(events.TypeUpdated, t0.Add(5*time.Minute), data(kath, m(na2, "DocuSign Sender", "Sales")))
	// A joiner without an email: the worker dead-letters it.
	bad := data(person{"E2005", "Alan", "Turing", "Analyst"}, m(na2, "DocuSign Sender"))
	bad.Email = ""
	add(events.TypeJoined, t0, bad)
	first, lines = lines, nil
	// A leaver now, and one effective in 30 days.
	add(events.TypeLeft, t0.Add(9*time.Minute), events.Data{EmployeeID: linus.id})
	later := events.Data{EmployeeID: ada.id, EffectiveAt: now.Add(30 * 24 * time.Hour).Truncate(time.Second)}
	add(events.TypeLeft, t0.Add(9*time.Minute), later)
	return first, lines
}

// printDirectory prints the simulator's users and memberships, one line per
// membership, sorted: the summary the demo ends with (CI checks it).
func printDirectory(w io.Writer, st docusignsim.State) {
	names := map[string]string{}
	for _, a := range st.Accounts {
		names[a.ID] = a.Name
	}
	type row struct{ email, account, status, profile, groups string }
	var rows []row
	for _, u := range st.Users {
		if u.OrganizationAdmin {
			continue // the seeded administrator
		}
		for _, ms := range u.Memberships {
			groups := make([]string, 0, len(ms.Groups))
			for _, g := range ms.Groups {
				groups = append(groups, g.Name)
			}
			slices.Sort(groups)
			rows = append(rows, row{u.Email, names[ms.AccountID], ms.Status, ms.PermissionProfile.Name, strings.Join(groups, ",")})
		}
	}
	slices.SortFunc(rows, func(a, b row) int {
		return strings.Compare(a.email+"\x00"+a.account, b.email+"\x00"+b.account)
	})
	fmt.Fprintf(w, "DocuSign directory (simulator): %d memberships\n", len(rows))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "USER\tACCOUNT\tSTATUS\tPROFILE\tGROUPS")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.email, r.account, r.status, r.profile, r.groups)
	}
	_ = tw.Flush()
	calls, _ := json.Marshal(st.Requests)
	fmt.Fprintf(w, "DocuSign calls by operation: %s; throttled (429): %d\n", calls, st.TooManyRequests)
}
