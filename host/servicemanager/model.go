package servicemanager

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// The JSON shapes of interworks' Service Management API. Property names are
// spelled as interworks' public SDK models spell them (PascalCase). Go's
// decoder matches keys case-insensitively, so a BSS that serialises
// camelCase is understood too; answers are always PascalCase.

// AccountDefinition is the account interworks sends to the Accounts routes
// and embeds in subscription bodies.
type AccountDefinition struct {
	// ID is the BSS account id: the idempotency key of Synchronize.
	ID string `json:"ID"`
	// ExternalID is the Result of an earlier Synchronize (the remote account
	// id), empty until then.
	ExternalID string `json:"ExternalID"`
	// ResellerID is the BSS id of the reseller that owns this account, empty
	// for a direct customer or a reseller.
	ResellerID string `json:"ResellerID"`
	// ResellerExternalID is the reseller's ExternalID. Informational: the
	// host acts on the reseller's stored record.
	ResellerExternalID string          `json:"ResellerExternalID"`
	Name               string          `json:"Name"`
	Code               string          `json:"Code"`
	Phone              string          `json:"Phone"`
	Email              string          `json:"Email"`
	Language           string          `json:"Language"`
	IsTest             bool            `json:"IsTest"`
	ContactDetails     *ContactDetails `json:"ContactDetails"`
	Address            *Address        `json:"Address"`
	// SyncOptions are the values of the options of [SyncOptionsResult], by
	// option ID.
	SyncOptions OptionValues `json:"SyncOptions"`
}

// ContactDetails is the account's primary contact. Current BSS versions
// send the Primary* names; older ones sent FirstName, LastName, Phone and
// Email. Both are read; the Primary* value wins when both are set.
type ContactDetails struct {
	ID               string `json:"ID"`
	PrimaryFirstName string `json:"PrimaryFirstName"`
	PrimaryLastName  string `json:"PrimaryLastName"`
	PrimaryPhone     string `json:"PrimaryPhone"`
	PrimaryEmail     string `json:"PrimaryEmail"`
	FirstName        string `json:"FirstName"`
	LastName         string `json:"LastName"`
	Phone            string `json:"Phone"`
	Email            string `json:"Email"`
}

// Address is the account's postal address; only the country is used.
type Address struct {
	Address1 string       `json:"Address1"`
	City     string       `json:"City"`
	PostCode string       `json:"PostCode"`
	State    *CodeAndName `json:"State"`
	Country  *CodeAndName `json:"Country"`
}

// CodeAndName is a country or state: Code is ISO 3166 for a country.
type CodeAndName struct {
	Code string `json:"Code"`
	Name string `json:"Name"`
}

// OptionValues maps option IDs to values. interworks sends strings; numbers
// and booleans are accepted too (as their JSON text), and null as empty.
type OptionValues map[string]string

// UnmarshalJSON accepts an object of strings, numbers, booleans or nulls.
func (o *OptionValues) UnmarshalJSON(b []byte) error {
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		*o = nil
		return nil
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	out := make(OptionValues, len(raw))
	for k, v := range raw {
		v = bytes.TrimSpace(v)
		switch {
		case len(v) == 0 || bytes.Equal(v, []byte("null")):
			out[k] = ""
		case v[0] == '"':
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return err
			}
			out[k] = s
		case v[0] == 't' || v[0] == 'f':
			out[k] = string(v)
		case v[0] == '-' || ('0' <= v[0] && v[0] <= '9'):
			if _, err := strconv.ParseFloat(string(v), 64); err != nil {
				return fmt.Errorf("option %q: %w", k, err)
			}
			out[k] = string(v)
		default:
			return fmt.Errorf("option %q: want a string, number or boolean", k)
		}
	}
	*o = out
	return nil
}

// Result is the envelope of every answer: Code 0 is success, anything else
// an error whose Message interworks shows to the user. Result carries the
// external id interworks stores and sends back as ExternalID (accounts) or
// ID (subscriptions, add-ons).
type Result struct {
	Code    int    `json:"Code"`
	Message string `json:"Message"`
	Result  string `json:"Result"`
	// AccountExtraInfo (account answers only) reports what the plugin
	// synchronized: the option values it used (e.g. the username it chose)
	// and the record's status.
	AccountExtraInfo map[string]string `json:"AccountExtraInfo,omitempty"`
}

// SyncOptionsResult answers Accounts/SyncOptions.
type SyncOptionsResult struct {
	Fields []CustomField `json:"Fields"`
}

// CustomField is one account option.
type CustomField struct {
	ID         string                `json:"ID"`
	Definition CustomFieldDefinition `json:"Definition"`
}

// CustomFieldDefinition describes an option as interworks renders it.
type CustomFieldDefinition struct {
	ID          string `json:"ID"`
	SortOrder   int    `json:"SortOrder"`
	Name        string `json:"Name"`
	Description string `json:"Description"`
	// Kind: SimpleValue, List, TextArea, ListMultiSelect, Boolean, ...
	Kind string `json:"Kind"`
	// DataType: Text, Number, Currency, Date.
	DataType         string            `json:"DataType"`
	IsRequired       bool              `json:"IsRequired"`
	PredefinedValues []PredefinedValue `json:"PredefinedValues"`
	IsReadOnly       bool              `json:"IsReadOnly"`
	// AvailableToStorefront asks the customer for the option at storefront
	// checkout.
	AvailableToStorefront bool `json:"AvailableToStorefront"`
}

// PredefinedValue is one choice of a List option.
type PredefinedValue struct {
	ID          string `json:"ID"`
	SortOrder   int    `json:"SortOrder"`
	Name        string `json:"Name"`
	Description string `json:"Description"`
	IsDefault   bool   `json:"IsDefault"`
}
