package main

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

func TestDecodeAccount(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		in      string
		want    *provisioningv1.Account
		wantErr string
	}{
		"proto names": {
			in: `{"id": "C-1", "type": "ACCOUNT_TYPE_CUSTOMER", "corporate_email": "a@b.example", "parent_id": "R-1",
			      "contact": {"first_name": "Ana", "last_name": "Ruiz"}, "country": "ES", "language": "es-ES"}`,
			want: &provisioningv1.Account{Id: "C-1", Type: provisioningv1.AccountType_ACCOUNT_TYPE_CUSTOMER, CorporateEmail: "a@b.example",
				ParentId: "R-1", Contact: &provisioningv1.Contact{FirstName: "Ana", LastName: "Ruiz"}, Country: "ES", Language: "es-ES"},
		},
		"json names": {
			in:   `{"id": "R-1", "type": "ACCOUNT_TYPE_RESELLER", "corporateEmail": "a@b.example"}`,
			want: &provisioningv1.Account{Id: "R-1", Type: provisioningv1.AccountType_ACCOUNT_TYPE_RESELLER, CorporateEmail: "a@b.example"},
		},
		"enum by number": {
			in:   `{"id": "R-1", "type": 2}`,
			want: &provisioningv1.Account{Id: "R-1", Type: provisioningv1.AccountType_ACCOUNT_TYPE_RESELLER},
		},
		"empty":         {in: " \n", wantErr: "empty account"},
		"unknown field": {in: `{"id": "C-1", "corporate_mail": "x"}`, wantErr: "unknown field"},
		"bad enum":      {in: `{"id": "C-1", "type": "RESELLER"}`, wantErr: "invalid value for enum"},
		"not an object": {in: `["C-1"]`, wantErr: "not an account"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := decodeAccount([]byte(tc.in))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("decodeAccount(%s) error = %v, want %q", tc.in, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got, protocmp.Transform()); diff != "" {
				t.Errorf("decodeAccount (-want +got):\n%s", diff)
			}
		})
	}
}

// The shipped examples decode.
func TestExamplesDecode(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("..", "..", "examples", "*.json"))
	if err != nil || len(files) < 4 {
		t.Fatalf("examples: %v %v", files, err)
	}
	for _, f := range files {
		if _, err := readAccount(f, nil); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	fh, err := os.Open(filepath.Join("..", "..", "examples", "batch.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	br := newBatchReader(fh, "batch.jsonl")
	n := 0
	for {
		_, err := br.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n < 6 {
		t.Errorf("batch.jsonl has %d items, want a few resellers and their customers", n)
	}
}

// FuzzDecodeAccount: the decoder never panics, and what it accepts survives
// a round trip through the -o json encoder.
func FuzzDecodeAccount(f *testing.F) {
	for _, s := range []string{
		`{"id": "C-1", "type": "ACCOUNT_TYPE_CUSTOMER", "corporate_email": "a@b.example"}`,
		`{"id": "R-1", "type": "ACCOUNT_TYPE_RESELLER", "contact": {"first_name": "Ana", "phone": "+34 1"}, "parent_id": ""}`,
		`{"id": "C-2", "type": 1, "name": "Ünïcödé ☃", "country": "ES", "language": "es-ES", "parent_id": "R-1"}`,
		`{}`, `null`, `[]`, `{"id": 1}`, `{"type": "NOPE"}`, `{"id": "\ud800"}`, "",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		acc, err := decodeAccount(data)
		if err != nil {
			return
		}
		b, err := jsonOptions.Marshal(acc)
		if err != nil {
			t.Fatalf("re-encode %v: %v", acc, err)
		}
		back := &provisioningv1.Account{}
		if err := protojson.Unmarshal(b, back); err != nil {
			t.Fatalf("decode the re-encoded %s: %v", b, err)
		}
		if !proto.Equal(acc, back) {
			t.Fatalf("round trip changed the account:\n%v\n%v", acc, back)
		}
	})
}

func TestParseValues(t *testing.T) {
	t.Parallel()
	tests := map[string]struct {
		in      []string
		want    map[string]string
		wantErr string
	}{
		"none":         {in: nil, want: nil},
		"two":          {in: []string{"username=acme", "role=Reseller"}, want: map[string]string{"username": "acme", "role": "Reseller"}},
		"equals kept":  {in: []string{"note=a=b"}, want: map[string]string{"note": "a=b"}},
		"empty value":  {in: []string{"username="}, want: map[string]string{"username": ""}},
		"no equals":    {in: []string{"username"}, wantErr: "want key=value"},
		"empty key":    {in: []string{"=x"}, wantErr: "want key=value"},
		"set twice":    {in: []string{"a=1", "a=2"}, wantErr: "given twice"},
		"spaced key":   {in: []string{" username =x"}, want: map[string]string{"username": "x"}},
		"value spaces": {in: []string{"name= a b "}, want: map[string]string{"name": " a b "}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got, err := parseValues(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || exitCode(err) != exitUsage {
					t.Fatalf("parseValues(%q) error = %v, want a usage error %q", tc.in, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("parseValues (-want +got):\n%s", diff)
			}
		})
	}
}

func TestBatchReader(t *testing.T) {
	t.Parallel()
	in := strings.Join([]string{
		`# header`,
		`{"account": {"id": "R-1", "type": "ACCOUNT_TYPE_RESELLER"}, "values": {"username": "r-one"}}`,
		``,
		`   {"account": {"id": "C-1", "parent_id": "R-1"}}   `,
		`{"values": {}}`,
		`{"account": {"name": "no id"}}`,
		`{"account": {"id": "C-2"}, "extra": 1}`,
		`{"account": {"id": "C-3"}}`,
	}, "\n")
	br := newBatchReader(strings.NewReader(in), "b.jsonl")
	var got []string
	for {
		item, err := br.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		var le *lineError
		switch {
		case errors.As(err, &le):
			got = append(got, le.Error()[:len("b.jsonl:5")])
		case err != nil:
			t.Fatal(err)
		default:
			got = append(got, item.GetAccount().GetId()+"/"+item.GetValues()["username"])
		}
	}
	want := []string{"R-1/r-one", "C-1/", "b.jsonl:5", "b.jsonl:6", "b.jsonl:7", "C-3/"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("batch items (-want +got):\n%s", diff)
	}
}

func TestBatchReaderLongLine(t *testing.T) {
	t.Parallel()
	br := newBatchReader(strings.NewReader(strings.Repeat("x", maxBatchLine+10)), "big.jsonl")
	if _, err := br.Next(); err == nil || !strings.Contains(err.Error(), "longer than") || exitCode(err) != exitUsage {
		t.Errorf("long line: %v", err)
	}
}
