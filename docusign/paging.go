package docusign

import (
	"fmt"
	"maps"
	"net/url"
	"strconv"
	"strings"
)

// maxPages stops a paged listing that does not end (a server bug) instead of looping forever.
const maxPages = 10_000

// adminPaging is the Admin API's PagingResponseProperties.
type adminPaging struct {
	ResultSetSize          int    `json:"result_set_size"`
	ResultSetStartPosition int    `json:"result_set_start_position"`
	ResultSetEndPosition   int    `json:"result_set_end_position"`
	TotalSetSize           int    `json:"total_set_size"`
	Next                   string `json:"next"`
	Previous               string `json:"previous"`
}

// nextAdminQuery returns the query of the next page: from paging.next when given (its query applied over ours,
// so our filters survive and the host is never taken from the reply), otherwise start += result_set_size while
// result_set_end_position + 1 < total_set_size.
func nextAdminQuery(cur url.Values, p *adminPaging, items int) (url.Values, bool) {
	if p == nil || items == 0 {
		return nil, false
	}
	start, _ := strconv.Atoi(cur.Get("start"))
	if p.Next != "" {
		if q, ok := mergeNextQuery(cur, p.Next); ok {
			if next, err := strconv.Atoi(q.Get("start")); err == nil && next > start {
				return q, true
			}
		}
	}
	size := p.ResultSetSize
	if size <= 0 {
		size = items
	}
	if p.TotalSetSize <= 0 || p.ResultSetEndPosition+1 >= p.TotalSetSize {
		return nil, false
	}
	q := cloneValues(cur)
	q.Set("start", strconv.Itoa(start+size))
	return q, true
}

// esignPaging holds the eSignature list paging fields (strings in v2.1).
type esignPaging struct {
	ResultSetSize string `json:"resultSetSize"`
	StartPosition string `json:"startPosition"`
	EndPosition   string `json:"endPosition"`
	TotalSetSize  string `json:"totalSetSize"`
	NextURI       string `json:"nextUri"`
}

// nextESignQuery returns the query of the next page: from nextUri (its query applied over ours, so our filters
// survive and the host is never taken from the reply); when nextUri has no usable start_position, the start
// advances by the items received. Without nextUri, start_position = endPosition + 1 while the totals say more
// remain.
func nextESignQuery(cur url.Values, p esignPaging, items int) (url.Values, bool) {
	if items == 0 {
		return nil, false
	}
	start, _ := strconv.Atoi(cur.Get("start_position"))
	if p.NextURI != "" {
		if q, ok := mergeNextQuery(cur, p.NextURI); ok {
			if next, err := strconv.Atoi(q.Get("start_position")); err == nil && next > start {
				return q, true
			}
		}
		q := cloneValues(cur)
		q.Set("start_position", strconv.Itoa(start+items))
		return q, true
	}
	end, errEnd := strconv.Atoi(strings.TrimSpace(p.EndPosition))
	total, errTotal := strconv.Atoi(strings.TrimSpace(p.TotalSetSize))
	if errEnd != nil || errTotal != nil || end+1 >= total || end+1 <= start {
		return nil, false
	}
	q := cloneValues(cur)
	q.Set("start_position", strconv.Itoa(end+1))
	return q, true
}

// mergeNextQuery applies the query of a next-page link (absolute or relative) over cur.
func mergeNextQuery(cur url.Values, next string) (url.Values, bool) {
	u, err := url.Parse(next)
	if err != nil {
		return nil, false
	}
	nq := u.Query()
	if len(nq) == 0 {
		return nil, false
	}
	q := cloneValues(cur)
	for k, v := range nq {
		q[k] = v
	}
	return q, true
}

func errTooManyPages(api API, op string) error {
	return fmt.Errorf("docusign: %s %s: more than %d pages; the paging never ended", api, op, maxPages)
}

func cloneValues(v url.Values) url.Values {
	if v == nil {
		return url.Values{}
	}
	return maps.Clone(v)
}
