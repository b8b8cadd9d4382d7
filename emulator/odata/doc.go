// Package odata is the query language of the Dataverse emulator: the
// $filter, $orderby and $select system query options of OData v4 as
// Dataverse reads them, with Dataverse's own query functions
// (Microsoft.Dynamics.CRM.In, NotIn, Between and NotBetween), and the
// literals of key segments such as leads(emailaddress1='a@b.com').
//
// The grammar follows the OData URI parser that Dataverse runs
// (Microsoft.OData.Core's ExpressionLexer and UriQueryExpressionParser): the
// same tokens, the same precedence and the same error texts and positions,
// so a client that builds a bad query fails here the way it would against a
// real org. Evaluation follows what Dataverse does after parsing: it turns
// the filter into SQL conditions, so strings compare case-insensitively,
// contains/startswith/endswith are LIKE patterns, and a comparison with a
// null column is unknown rather than true or false.
//
// The package knows no tables. A row is a map from column name to the value
// encoding/json gives it (nil, bool, float64, string; Go integers and
// json.Number are read as numbers too), and the caller decides which column
// names exist: Filter.Columns and the parsed $orderby and $select name them
// so that the caller can refuse unknown ones the way Dataverse does. A path
// such as sdkmessageid/name or RequiredLevel/Value is one column named with
// its slash, for the caller to accept or refuse. Parameter aliases (@p1,
// given as &@p1='x' beside $filter) are read with ParseFilterAliases, and
// enumeration literals (Microsoft.Dynamics.CRM.AttributeTypeCode'Picklist')
// compare as their member name. Every
// error is an *Error whose Message is the text Dataverse puts in its error
// body.
package odata
