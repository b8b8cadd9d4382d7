package emulator

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// Dataverse error codes and messages (reference §1, §3, §5, §7). Messages
// with numbers or names in them are built by the functions below.
const (
	codeNotFound            = "0x80040217"
	codeKeyNotFound         = "0x80048d02"
	codeDuplicateRecord     = "0x80040237"
	codeDuplicateKey        = "0x80060892"
	codeDuplicateDetected   = "0x80040333"
	codeVersionMismatch     = "0x80060882"
	codeLength              = "0x80044331"
	codePicklist            = "0x8004431A"
	codeInvalidArgument     = "0x80040203"
	codePayload             = "0x80048d19"
	codeInvalidProperty     = "0x0" // what "Troubleshoot Dataverse Web API client errors" shows
	codeQuery               = "0x80060888"
	codeTokenExpired        = "0x8005F101"
	codeThrottleRequests    = "0x80072322"
	codeThrottleExecution   = "0x80072321"
	codeThrottleConcurrency = "0x80072326"
	codeIntegerOutOfRange   = "0x8004432F"
	codeInvalidDateTime     = "0x80040239"
	// The codes of these two are unconfirmed; InvalidArgument is the
	// documented generic one.
	codeDecimalOutOfRange    = codeInvalidArgument
	codeNotSupported         = codeInvalidArgument
	codeUnexpected           = "0x80040216"
	msgRecordExists          = "A record with matching key values already exists."
	msgVersionMismatch       = "The version of the existing record doesn't match the RowVersion property provided."
	msgDuplicateDetected     = "A record was not created or updated because a duplicate of the current record already exists."
	msgAuthRequired          = "The requested resource requires authentication."
	msgInvalidDateTime       = "The date-time format is invalid, or value is outside the supported range."
	contentTypeJSON          = "application/json; odata.metadata=minimal"
	contentTypeJSONStreaming = "application/json; odata.metadata=minimal; odata.streaming=true"
)

func msgNotFound(t *tableSchema, id string) string {
	return fmt.Sprintf("%s With Id = %s Does Not Exist", t.logical, id)
}

func msgKeyNotFound(t *tableSchema) string {
	return fmt.Sprintf("A record with the specified key values does not exist in %s entity", t.logical)
}

func msgKeyNotValid(t *tableSchema) string {
	return fmt.Sprintf("The key in the request URI is not valid for resource '%[1]s'. Ensure that the names and number of key properties match the declared or alternate key properties for the resource '%[1]s'.", t.typeName())
}

// msgUnknownProperty is the answer to a request body naming a property the
// table lacks, as the troubleshooting page shows it. ("Could not find a
// property named …", msgNoProperty, is the answer to $select, $filter and
// $orderby; "The property 'x' does not exist on type …" is not confirmed by
// any documentation.)
func msgUnknownProperty(t *tableSchema, prop string) string {
	return fmt.Sprintf("An error occurred while validating input parameters: Microsoft.Crm.CrmException: Invalid property '%s' was found in entity '%s'. ---> Microsoft.OData.ODataException: Does not support untyped value in non-open type.", prop, t.typeName())
}

func msgTooLong(t *tableSchema, c *column) string {
	// The doc's example has two spaces after the first sentence.
	return fmt.Sprintf("A validation error occurred.  The length of the '%s' attribute of the '%s' entity exceeded the maximum allowed length of '%d'.", c.name, t.logical, c.maxLen)
}

func msgBadChoice(t *tableSchema, c *column, v string) string {
	vals := make([]string, len(c.choices))
	for i, n := range c.choices {
		vals[i] = strconv.Itoa(n)
	}
	return fmt.Sprintf("A validation error occurred. The value %s of '%s' on record of type '%s' is outside the valid range. Accepted Values: %s",
		v, c.name, t.logical, strings.Join(vals, ","))
}

// msgDecimalOutOfRange mirrors the integer message; Dataverse's own text
// for decimal and money columns is unconfirmed.
func msgDecimalOutOfRange(c *column) string {
	kind := "decimal"
	if c.kind == kindMoney {
		kind = "money"
	}
	return fmt.Sprintf("A validation error occurred. A %s value provided is outside of the allowed values for this attribute: '%s' takes %s to %s.",
		kind, c.name, strconv.FormatFloat(c.min, 'f', -1, 64), strconv.FormatFloat(c.max, 'f', -1, 64))
}

// msgNotSupported is the platform's answer to a message a table does not
// take, as SDK and Web API clients report it ("The 'DeleteMultiple'
// method does not support entities of type 'contact'."). The HTTP status
// and code Dataverse sends with it are unconfirmed: 400 and InvalidArgument
// here.
func msgNotSupported(message string, t *tableSchema) *result {
	return badRequest(codeNotSupported, fmt.Sprintf("The '%s' method does not support entities of type '%s'. MessageProcessorCache returned MessageProcessor.Empty.", message, t.logical))
}

// messageFor names the SDK message a Web API request stands for.
func messageFor(method string, rp resourcePath) string {
	switch {
	case method == http.MethodPost && !rp.hasKey:
		return "Create"
	case method == http.MethodDelete && rp.rest == "":
		return "Delete"
	case method == http.MethodPatch && rp.rest == "":
		return "Upsert"
	}
	return "Update"
}

func msgDuplicateKey(cols []string) string {
	return fmt.Sprintf("Entity Key %s violated. A record with the same value for %s already exists. A duplicate record cannot be created. Select one or more unique values and try again.",
		strings.Join(cols, ","), strings.Join(cols, ", "))
}

type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// apiError is the §5 envelope, the one shape every Web API failure takes.
func apiError(status int, code, msg string) *result {
	detail := errorDetail{Code: code, Message: msg}
	r := jsonResult(status, errorBody{Error: detail})
	r.apiErr = &detail
	return r
}

func badRequest(code, msg string) *result { return apiError(http.StatusBadRequest, code, msg) }
