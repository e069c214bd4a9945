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
		t, err := scalarText(v)
		if err != nil {
			return fmt.Errorf("option %q: %w", k, err)
		}
		out[k] = t
	}
	*o = out
	return nil
}

// scalarText reads a JSON string, number or boolean as its text; null is
// "".
func scalarText(v json.RawMessage) (string, error) {
	v = bytes.TrimSpace(v)
	switch {
	case len(v) == 0 || bytes.Equal(v, []byte("null")):
		return "", nil
	case v[0] == '"':
		var s string
		err := json.Unmarshal(v, &s)
		return s, err
	case bytes.Equal(v, []byte("true")) || bytes.Equal(v, []byte("false")):
		return string(v), nil
	case v[0] == '-' || ('0' <= v[0] && v[0] <= '9'):
		if _, err := strconv.ParseFloat(string(v), 64); err != nil {
			return "", err
		}
		return string(v), nil
	}
	return "", fmt.Errorf("want a string, number or boolean")
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

// ServiceDefinition is the body of the subscription and add-on routes:
// the subscription's whole desired state, with all its add-ons and the
// account. interworks' SDK names it ServiceDefinition.
type ServiceDefinition struct {
	// ID identifies the subscription: the Result of Subscription Create on
	// every later call.
	ID string `json:"ID"`
	// SubscriptionID is the BSS's own subscription id; used as the key
	// when ID is empty (a Create).
	SubscriptionID string `json:"SubscriptionID"`
	// ExternalID is accepted as a synonym of ID.
	ExternalID  string `json:"ExternalID"`
	Name        string `json:"Name"`
	ServiceType string `json:"ServiceType"`
	ProductID   string `json:"ProductID"`
	// ActionType: None, Provision, Cancel, Suspend, Activate, Upgrade,
	// Downgrade, UpgradeToPaid. The route decides what is done; ActionType
	// only matters on add-ons.
	ActionType    string             `json:"ActionType"`
	Quantity      int32              `json:"Quantity"`
	Status        string             `json:"Status"`
	Account       *AccountDefinition `json:"Account"`
	AttributeList Attributes         `json:"AttributeList"`
	Addons        []AddonDefinition  `json:"Addons"`
	IsTrial       bool               `json:"IsTrial"`
	IsTest        bool               `json:"IsTest"`
	CheckOnly     bool               `json:"CheckOnly"`
}

// AddonDefinition is one add-on of a subscription body.
type AddonDefinition struct {
	// ID identifies the add-on line: the Result of its Addon Create.
	ID            string     `json:"ID"`
	ParentID      string     `json:"ParentID"`
	Name          string     `json:"Name"`
	ProductID     string     `json:"ProductID"`
	ActionType    string     `json:"ActionType"`
	Quantity      int32      `json:"Quantity"`
	AttributeList Attributes `json:"AttributeList"`
}

// Attribute is one order attribute: interworks sends a dictionary keyed by
// attribute ID of {ID, Name, Value, ValueExternal, Code, ...}.
type Attribute struct {
	ID    string `json:"ID"`
	Name  string `json:"Name"`
	Value string `json:"Value"`
	// Code is the selected list item's code, preferred over Value for a
	// list attribute.
	Code string `json:"Code"`
}

// Attributes maps attribute IDs to attributes. Both interworks' dictionary
// and a plain array of attributes are read.
type Attributes map[string]Attribute

// UnmarshalJSON accepts {"ID": {...}} or [{...}], with Value a string,
// number or boolean.
func (a *Attributes) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || bytes.Equal(b, []byte("null")) {
		*a = nil
		return nil
	}
	var list []looseAttribute
	if b[0] == '[' {
		if err := json.Unmarshal(b, &list); err != nil {
			return err
		}
	} else {
		var m map[string]looseAttribute
		if err := json.Unmarshal(b, &m); err != nil {
			return err
		}
		for k, v := range m {
			if v.ID == "" {
				v.ID = k
			}
			list = append(list, v)
		}
	}
	out := make(Attributes, len(list))
	for _, v := range list {
		if v.ID == "" {
			return fmt.Errorf("an attribute has no ID")
		}
		out[v.ID] = Attribute{ID: v.ID, Name: v.Name, Value: string(v.Value), Code: v.Code}
	}
	*a = out
	return nil
}

type looseAttribute struct {
	ID    string `json:"ID"`
	Name  string `json:"Name"`
	Value scalar `json:"Value"`
	Code  string `json:"Code"`
}

// scalar is a string, number or boolean read as its text.
type scalar string

func (s *scalar) UnmarshalJSON(b []byte) error {
	t, err := scalarText(b)
	*s = scalar(t)
	return err
}

// ServiceDefinitionResult answers Fields/ServiceDefinition.
type ServiceDefinitionResult struct {
	ProductTypes []ProductType `json:"ProductTypes"`
}

// ProductType is one product family: interworks recommends one per family,
// so a plugin's whole catalogue is one product type.
type ProductType struct {
	ID                         string `json:"ID"`
	Name                       string `json:"Name"`
	Description                string `json:"Description"`
	AllowMultipleSubscriptions bool   `json:"AllowMultipleSubscriptions"`
	Scope                      string `json:"Scope"`
	// Derivative is SUBSCRIPTION: licences billed per period.
	Derivative         string                `json:"Derivative"`
	QuantityLimit      int32                 `json:"QuantityLimit"`
	AttributeList      []AttributeDefinition `json:"AttributeList"`
	ProductsCollection ProductsCollection    `json:"ProductsCollection"`
}

// ProductsCollection holds the products and add-ons of a product type.
type ProductsCollection struct {
	Products []ProductDefinition `json:"Products"`
	Addons   []AddonProduct      `json:"Addons"`
}

// ProductDefinition is one base product.
type ProductDefinition struct {
	ID                string `json:"ID"`
	Code              string `json:"Code"`
	Name              string `json:"Name"`
	Description       string `json:"Description"`
	TrialEnabled      bool   `json:"TrialEnabled"`
	TrialDuration     int32  `json:"TrialDuration"`
	TrialDurationType string `json:"TrialDurationType,omitempty"`
	// MinQuantity and MaxQuantity (0: none) are the plugin's bounds;
	// interworks has no per-product property for them, the pre-check
	// enforces them.
	MinQuantity int32 `json:"MinQuantity"`
	MaxQuantity int32 `json:"MaxQuantity"`
}

// AddonProduct is one add-on product; Products lists the base products it
// can be added to.
type AddonProduct struct {
	ProductDefinition
	Products []string `json:"Products"`
}

// AttributeDefinition is one order attribute of a product type.
type AttributeDefinition struct {
	ID               string                 `json:"ID"`
	SortOrder        int                    `json:"SortOrder"`
	Name             string                 `json:"Name"`
	Description      string                 `json:"Description"`
	Usage            string                 `json:"Usage"`
	Kind             string                 `json:"Kind"`
	IsRequired       bool                   `json:"IsRequired"`
	PredefinedValues []AttributeChoiceValue `json:"PredefinedValues"`
}

// AttributeChoiceValue is one choice of a list attribute.
type AttributeChoiceValue struct {
	ID        string `json:"ID"`
	Code      string `json:"Code"`
	Name      string `json:"Name"`
	IsDefault bool   `json:"IsDefault"`
}
