package forms

import (
	"fmt"
	"slices"
	"strings"
)

// Message keys: the words leadbridge itself shows on a form, in the hosted
// page, the embed and the field errors of a 422. Each is built in for
// English, German, French and Spanish; a form's messages: key overrides any
// of them, in any language.
//
// Field errors are said after the field's label ("Email must be a valid
// email address"), so they are written to read after any label, without
// grammatical gender.
const (
	MsgRequired     = "required"
	MsgTicked       = "ticked"
	MsgEmail        = "email"
	MsgMax          = "max"
	MsgMin          = "min"
	MsgLen          = "len"
	MsgEmojiNote    = "emoji_note"
	MsgOneOf        = "oneof"
	MsgOption       = "option"
	MsgURL          = "url"
	MsgE164         = "e164"
	MsgNumeric      = "numeric"
	MsgAlpha        = "alpha"
	MsgAlphanum     = "alphanum"
	MsgYesNo        = "yes_no"
	MsgEq           = "eq"
	MsgInvalid      = "invalid"
	MsgNotText      = "not_text"
	MsgNullChar     = "null_char"
	MsgSubmit       = "submit"
	MsgSending      = "sending"
	MsgSummaryOne   = "summary_one"
	MsgSummaryMany  = "summary_many"
	MsgThanksTitle  = "thanks_title"
	MsgThanksText   = "thanks_text"
	MsgReference    = "reference"
	MsgBack         = "back"
	MsgRetrying     = "retrying"
	MsgFailed       = "failed"
	MsgChoose       = "choose"
	MsgRequiredMark = "required_mark"
	MsgPrivacy      = "privacy"
	MsgKeyReused    = "key_reused"
	MsgNotSaved     = "not_saved"
	MsgRateLimited  = "rate_limited"
	MsgBusy         = "busy"
)

// builtin are the built-in messages: key → language → text. %s and %d
// are filled in by the caller (a number, a list, a site's name).
var builtin = map[string]map[string]string{
	MsgRequired:     {"en": "is required", "de": "ist ein Pflichtfeld", "fr": "est un champ obligatoire", "es": "es un campo obligatorio"},
	MsgTicked:       {"en": "must be ticked", "de": "muss angekreuzt sein", "fr": "est à cocher", "es": "debe marcarse"},
	MsgEmail:        {"en": "must be a valid email address", "de": "muss eine gültige E-Mail-Adresse sein", "fr": "doit être une adresse e-mail valide", "es": "debe ser una dirección de correo electrónico válida"},
	MsgMax:          {"en": "must be at most %s characters", "de": "darf höchstens %s Zeichen lang sein", "fr": "doit comporter au plus %s caractères", "es": "debe tener como máximo %s caracteres"},
	MsgMin:          {"en": "must be at least %s characters", "de": "muss mindestens %s Zeichen lang sein", "fr": "doit comporter au moins %s caractères", "es": "debe tener al menos %s caracteres"},
	MsgLen:          {"en": "must be exactly %s characters", "de": "muss genau %s Zeichen lang sein", "fr": "doit comporter exactement %s caractères", "es": "debe tener exactamente %s caracteres"},
	MsgEmojiNote:    {"en": " (an emoji counts as two)", "de": " (ein Emoji zählt doppelt)", "fr": " (un emoji compte double)", "es": " (un emoji cuenta como dos)"},
	MsgOneOf:        {"en": "must be one of: %s", "de": "muss einer dieser Werte sein: %s", "fr": "doit être l’une de ces valeurs : %s", "es": "debe ser uno de estos valores: %s"},
	MsgOption:       {"en": "must be one of the choices offered", "de": "muss eine der angebotenen Möglichkeiten sein", "fr": "doit être l’un des choix proposés", "es": "debe ser una de las opciones ofrecidas"},
	MsgURL:          {"en": "must be a web address starting with http:// or https://", "de": "muss eine Webadresse sein, die mit http:// oder https:// beginnt", "fr": "doit être une adresse web commençant par http:// ou https://", "es": "debe ser una dirección web que empiece por http:// o https://"},
	MsgE164:         {"en": "must be a phone number in international format, like +14155550123", "de": "muss eine Telefonnummer im internationalen Format sein, z. B. +493012345678", "fr": "doit être un numéro de téléphone au format international, par exemple +33123456789", "es": "debe ser un número de teléfono en formato internacional, p. ej. +34912345678"},
	MsgNumeric:      {"en": "must be a number", "de": "muss eine Zahl sein", "fr": "doit être un nombre", "es": "debe ser un número"},
	MsgAlpha:        {"en": "must contain letters only", "de": "darf nur Buchstaben enthalten", "fr": "ne doit contenir que des lettres", "es": "solo puede contener letras"},
	MsgAlphanum:     {"en": "must contain letters and digits only", "de": "darf nur Buchstaben und Ziffern enthalten", "fr": "ne doit contenir que des lettres et des chiffres", "es": "solo puede contener letras y dígitos"},
	MsgYesNo:        {"en": "must be yes or no", "de": "muss ja oder nein sein", "fr": "doit être oui ou non", "es": "debe ser sí o no"},
	MsgEq:           {"en": "must be %s", "de": "muss %s sein", "fr": "doit être %s", "es": "debe ser %s"},
	MsgInvalid:      {"en": "is not valid (%s)", "de": "ist ungültig (%s)", "fr": "n’est pas valide (%s)", "es": "no es válido (%s)"},
	MsgNotText:      {"en": "contains characters that are not valid text", "de": "enthält Zeichen, die kein gültiger Text sind", "fr": "contient des caractères qui ne sont pas du texte valide", "es": "contiene caracteres que no son texto válido"},
	MsgNullChar:     {"en": "contains a null character", "de": "enthält ein Nullzeichen", "fr": "contient un caractère nul", "es": "contiene un carácter nulo"},
	MsgSubmit:       {"en": "Send", "de": "Senden", "fr": "Envoyer", "es": "Enviar"},
	MsgSending:      {"en": "Sending…", "de": "Wird gesendet …", "fr": "Envoi…", "es": "Enviando…"},
	MsgSummaryOne:   {"en": "Please check this field", "de": "Bitte prüfen Sie dieses Feld", "fr": "Veuillez vérifier ce champ", "es": "Revise este campo"},
	MsgSummaryMany:  {"en": "Please check these %d fields", "de": "Bitte prüfen Sie diese %d Felder", "fr": "Veuillez vérifier ces %d champs", "es": "Revise estos %d campos"},
	MsgThanksTitle:  {"en": "Thank you", "de": "Vielen Dank", "fr": "Merci", "es": "Gracias"},
	MsgThanksText:   {"en": "We have received your details and will be in touch.", "de": "Wir haben Ihre Angaben erhalten und melden uns bei Ihnen.", "fr": "Nous avons bien reçu vos informations et reviendrons vers vous.", "es": "Hemos recibido sus datos y nos pondremos en contacto con usted."},
	MsgReference:    {"en": "Reference", "de": "Referenz", "fr": "Référence", "es": "Referencia"},
	MsgBack:         {"en": "Back to %s", "de": "Zurück zu %s", "fr": "Retour à %s", "es": "Volver a %s"},
	MsgRetrying:     {"en": "Connection problem: trying again in %d s…", "de": "Verbindungsproblem: neuer Versuch in %d s …", "fr": "Problème de connexion : nouvel essai dans %d s…", "es": "Problema de conexión: reintentando en %d s…"},
	MsgFailed:       {"en": "Your details could not be sent. Please try again in a moment.", "de": "Ihre Angaben konnten nicht gesendet werden. Bitte versuchen Sie es gleich noch einmal.", "fr": "Vos informations n’ont pas pu être envoyées. Veuillez réessayer dans un instant.", "es": "No se han podido enviar sus datos. Vuelva a intentarlo en un momento."},
	MsgChoose:       {"en": "Choose…", "de": "Bitte wählen …", "fr": "Choisir…", "es": "Elegir…"},
	MsgRequiredMark: {"en": "required", "de": "Pflichtfeld", "fr": "obligatoire", "es": "obligatorio"},
	MsgPrivacy:      {"en": "Privacy policy", "de": "Datenschutzerklärung", "fr": "Politique de confidentialité", "es": "Política de privacidad"},
	MsgKeyReused: {
		"en": "This form was already sent with different answers. Check these and press Send to send them as well.",
		"de": "Dieses Formular wurde bereits mit anderen Angaben gesendet. Prüfen Sie diese und drücken Sie „Senden“, um sie ebenfalls zu senden.",
		"fr": "Ce formulaire a déjà été envoyé avec d’autres réponses. Vérifiez-les et appuyez sur « Envoyer » pour les envoyer aussi.",
		"es": "Este formulario ya se envió con otras respuestas. Revíselas y pulse «Enviar» para enviarlas también.",
	},
	MsgNotSaved: {
		"en": "We could not confirm that your submission was saved. Press Send again in a few seconds: it will not be sent twice.",
		"de": "Wir konnten nicht bestätigen, dass Ihre Angaben gespeichert wurden. Drücken Sie in ein paar Sekunden erneut „Senden“: Sie werden nicht doppelt gesendet.",
		"fr": "Nous n’avons pas pu confirmer l’enregistrement de vos informations. Appuyez de nouveau sur « Envoyer » dans quelques secondes : elles ne seront pas envoyées deux fois.",
		"es": "No hemos podido confirmar que sus datos se hayan guardado. Pulse «Enviar» de nuevo en unos segundos: no se enviarán dos veces.",
	},
	MsgRateLimited: {
		"en": "Too many submissions from your connection. Please wait %d seconds and press Send again.",
		"de": "Zu viele Übermittlungen von Ihrer Verbindung. Bitte warten Sie %d Sekunden und drücken Sie erneut „Senden“.",
		"fr": "Trop d’envois depuis votre connexion. Veuillez patienter %d secondes puis appuyer de nouveau sur « Envoyer ».",
		"es": "Demasiados envíos desde su conexión. Espere %d segundos y pulse «Enviar» de nuevo.",
	},
	MsgBusy: {
		"en": "We are receiving more submissions than we can handle right now. Please wait %d seconds and press Send again.",
		"de": "Wir erhalten gerade mehr Übermittlungen, als wir bearbeiten können. Bitte warten Sie %d Sekunden und drücken Sie erneut „Senden“.",
		"fr": "Nous recevons actuellement plus d’envois que nous ne pouvons en traiter. Veuillez patienter %d secondes puis appuyer de nouveau sur « Envoyer ».",
		"es": "En este momento recibimos más envíos de los que podemos atender. Espere %d segundos y pulse «Enviar» de nuevo.",
	},
}

// BuiltinLanguages are the languages every built-in message is given in.
var BuiltinLanguages = []string{"en", "de", "fr", "es"}

// MessageKeys lists every message key, sorted: the keys a form's
// messages: may override.
func MessageKeys() []string {
	keys := make([]string, 0, len(builtin))
	for k := range builtin {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Message returns message key in lang: the form's own wording if it has
// one, else the built-in one (in lang's base language, or English when
// leadbridge has no wording in lang), with args filled in.
func (f *Form) Message(lang, key string, args ...any) string {
	own, b := f.Messages[key], Text(builtin[key])
	var text string
	if s, ok := own.exact(lang); ok {
		text = s
	} else if s, ok := b.exact(lang); ok {
		text = s
	} else if len(own) > 0 {
		text = own.In(lang, f.Language)
	} else {
		text = b.In(lang, "en")
	}
	if len(args) == 0 {
		return text
	}
	return fmt.Sprintf(text, args...)
}

// checkMessages refuses message keys leadbridge does not have.
func checkMessages(m map[string]Text) error {
	for k := range m {
		if _, ok := builtin[k]; !ok {
			return fmt.Errorf("messages.%s: unknown message (want one of %s)", k, strings.Join(MessageKeys(), ", "))
		}
	}
	return nil
}
