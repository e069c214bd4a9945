package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/cloudbss/provisioning/plugin/diag"
	hostv1 "github.com/cloudbss/provisioning/proto/provisioning/host/v1"
	provisioningv1 "github.com/cloudbss/provisioning/proto/provisioning/v1"
)

func TestRender(t *testing.T) {
	t.Parallel()
	form := []*provisioningv1.Field{
		{Key: "parent_account", Label: "Parent Account", Kind: provisioningv1.FieldKind_FIELD_KIND_ACCOUNT_REF, ReadOnly: true, AutoFill: true},
		{Key: "role", Label: "Role", Kind: provisioningv1.FieldKind_FIELD_KIND_ENUM, Required: true, AutoFill: true, Value: "User",
			Choices: []*provisioningv1.Choice{{Value: "User"}, {Value: "Reseller"}}},
		{Key: "username", Label: "Username", Kind: provisioningv1.FieldKind_FIELD_KIND_STRING, Required: true, Value: "umbrella"},
		{Key: "pin", Label: "PIN", Kind: provisioningv1.FieldKind_FIELD_KIND_INTEGER, Sensitive: true, Value: fakeSecret},
	}
	diags := []*provisioningv1.Diagnostic{
		diag.Warning("account.corporate_email", diag.CodeInvalidEmail, "odd email", ""),
		diag.Error("parent_account", diag.CodeParentNotSynced, "reseller R-1 not synced", "Synchronize it first."),
	}
	updated := timestamppb.New(time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC))
	tests := map[string]struct {
		render func(*bytes.Buffer) error
		want   string
	}{
		"form": {
			render: func(b *bytes.Buffer) error { return renderForm(b, form, diags) },
			want: "" +
				"FIELD           LABEL           KIND         VALUE     FLAGS                CHOICES\n" +
				"parent_account  Parent Account  account-ref  -         read-only,auto-fill  -\n" +
				"role            Role            enum         User      required,auto-fill   User, Reseller\n" +
				"username        Username        string       umbrella  required             -\n" +
				"pin             PIN             integer      (hidden)  sensitive            -\n" +
				"\n" +
				"SEVERITY  CODE               FIELD                    SUMMARY\n" +
				"error     PARENT_NOT_SYNCED  parent_account           reseller R-1 not synced\n" +
				"                                                        Synchronize it first.\n" +
				"warning   INVALID_EMAIL      account.corporate_email  odd email\n",
		},
		"no diagnostics": {
			render: func(b *bytes.Buffer) error { return renderDiagnostics(b, nil) },
			want:   "No problems found.\n",
		},
		"record": {
			render: func(b *bytes.Buffer) error {
				return renderRecord(b, &provisioningv1.SyncRecord{
					Plugin: "panda", AccountId: "R-1", Status: provisioningv1.SyncStatus_SYNC_STATUS_NOT_SYNCED, RemoteId: "ACC-0000002",
					RemoteParentId: "ACC-0000001", UpdatedAt: updated, Message: "waiting\nfor activation",
					Values: map[string]string{"username": "acme", "role": "Reseller", "api_token": fakeSecret},
				}, [2]string{"Created", "yes"})
			},
			want: "" +
				"Account:        R-1\n" +
				"Plugin:         panda\n" +
				"Status:         not-synced\n" +
				"Remote id:      ACC-0000002\n" +
				"Remote parent:  ACC-0000001\n" +
				"Created:        yes\n" +
				"Message:        waiting for activation\n" +
				"Updated:        2026-11-27T10:00:00Z\n" +
				"Values:\n" +
				"  api_token  (hidden)\n" +
				"  role       Reseller\n" +
				"  username   acme\n",
		},
		"records": {
			render: func(b *bytes.Buffer) error {
				return renderRecords(b, []*provisioningv1.SyncRecord{
					{Plugin: "panda", AccountId: "C-2", Status: provisioningv1.SyncStatus_SYNC_STATUS_PENDING, UpdatedAt: updated},
					{Plugin: "panda", AccountId: "R-1", Status: provisioningv1.SyncStatus_SYNC_STATUS_ACTIVE, RemoteId: "ACC-0000002", RemoteParentId: "ACC-0000001"},
				})
			},
			want: "" +
				"ACCOUNT  PLUGIN  STATUS   REMOTE ID    REMOTE PARENT  UPDATED               MESSAGE\n" +
				"C-2      panda   pending  -            -              2026-11-27T10:00:00Z  -\n" +
				"R-1      panda   active   ACC-0000002  ACC-0000001    -                     -\n",
		},
		"no records": {
			render: func(b *bytes.Buffer) error { return renderRecords(b, nil) },
			want:   "No records.\n",
		},
		"plugins": {
			render: func(b *bytes.Buffer) error {
				return renderPlugins(b, []*hostv1.Plugin{{Name: "panda", DisplayName: "Panda Antivirus", Version: "1.2.0", Path: "/bin/p",
					Sha256: strings.Repeat("0f", 32), State: hostv1.PluginState_PLUGIN_STATE_RESTARTING, Restarts: 2, LastError: "exit status 2"}})
			},
			want: "" +
				"NAME   DISPLAY NAME     VERSION  STATE       RESTARTS  SHA256        PATH    LAST ERROR\n" +
				"panda  Panda Antivirus  1.2.0    restarting  2         0f0f0f0f0f0f  /bin/p  exit status 2\n",
		},
		"info": {
			render: func(b *bytes.Buffer) error {
				return renderInfo(b, &provisioningv1.GetPluginInfoResponse{Name: "panda", DisplayName: "Panda Antivirus", Version: "1.2.0",
					Capabilities: []provisioningv1.Capability{provisioningv1.Capability_CAPABILITY_SYNC_OPTIONS, provisioningv1.Capability_CAPABILITY_AUTO_FILL},
					ConfigFields: []*provisioningv1.Field{
						{Key: "api_url", Label: "API URL", Kind: provisioningv1.FieldKind_FIELD_KIND_STRING, Required: true, Description: "Base URL"},
						{Key: "password", Label: "Password", Kind: provisioningv1.FieldKind_FIELD_KIND_STRING, Sensitive: true, Value: fakeSecret},
					}})
			},
			want: "" +
				"Name:          panda\n" +
				"Display name:  Panda Antivirus\n" +
				"Version:       1.2.0\n" +
				"Capabilities:  sync-options, auto-fill\n" +
				"\n" +
				"Settings:\n" +
				"KEY       LABEL     KIND    DEFAULT   FLAGS      DESCRIPTION\n" +
				"api_url   API URL   string  -         required   Base URL\n" +
				"password  Password  string  (hidden)  sensitive  -\n",
		},
		"batch line failed": {
			render: func(b *bytes.Buffer) error {
				_, err := b.WriteString(resultLine(&hostv1.SynchronizeBatchResponse{AccountId: "R-9", Outcome: hostv1.Outcome_OUTCOME_FAILED,
					Error: statusProto(diag.InvalidArgument("account.corporate_email", diag.CodeInvalidEmail, "not an address"))}) + "\n")
				return err
			},
			want: "R-9                  failed   -              INVALID_ARGUMENT: account.corporate_email: not an address\n",
		},
		"batch line synced": {
			render: func(b *bytes.Buffer) error {
				_, err := b.WriteString(resultLine(&hostv1.SynchronizeBatchResponse{AccountId: "C-1", Outcome: hostv1.Outcome_OUTCOME_SYNCED, Created: true,
					Record: &provisioningv1.SyncRecord{RemoteId: "ACC-0000007", Status: provisioningv1.SyncStatus_SYNC_STATUS_SYNCED}}) + "\n")
				return err
			},
			want: "C-1                  synced   ACC-0000007    created, synced\n",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var b bytes.Buffer
			if err := tc.render(&b); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, b.String()); diff != "" {
				t.Errorf("output (-want +got):\n%s", diff)
			}
			if strings.Contains(b.String(), fakeSecret) {
				t.Errorf("output contains a secret:\n%s", b.String())
			}
		})
	}
}

func TestProgressLine(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := start.Add(2 * time.Second)
	tests := map[string]struct {
		total int
		sum   summary
		want  string
	}{
		"known total": {
			total: 40, sum: summary{synced: 18, skipped: 1, failed: 1, start: start},
			want: "[===============>              ] 20/40  synced 18  skipped 1  failed 1  10/s",
		},
		"done": {
			total: 4, sum: summary{synced: 4, start: start},
			want: "[==============================] 4/4  synced 4  skipped 0  failed 0  2/s",
		},
		"stdin": {
			sum:  summary{synced: 7, start: start},
			want: "7 done  synced 7  skipped 0  failed 0  4/s",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p := &progress{total: tc.total, sum: tc.sum, now: func() time.Time { return now }}
			if diff := cmp.Diff(tc.want, p.line()); diff != "" {
				t.Errorf("line (-want +got):\n%s", diff)
			}
		})
	}
}
