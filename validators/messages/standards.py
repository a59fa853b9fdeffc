"""The message standards samsvar knows, by XML namespace, and the parts of a message.

A Norwegian health message is either a MsgHead v1.2 envelope whose ``Document/RefDoc/Content``
elements carry one or more payloads (a dialogmelding, a henvisning, a lab report, a base64
attachment, ...), or a bare payload (a lab report sent on its own), or an application receipt
(AppRec). :func:`describe` splits a parsed message into those parts and names the standard of
each by its namespace, so that later layers (XML Schema, rules) know what they look at.

The namespaces come from the ``targetNamespace`` of the official XSDs (sarepta-skjema) and
their versions from ``MeldingsVersjoner.xml``. Neither source lists the message types of
code system 8279 (``MsgHead/MsgInfo/Type/@V``) that go with a payload, so ``message_types``
holds only the codes seen with that payload in the published example messages (sarepta
``eksempel`` and the Helsenorge examples); it is empty where no example shows one. It is a
hint for consistency rules, not a closed list.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from lxml import etree

from ..issues import Issue
from ..rules import declared

MSGHEAD_NS = "http://www.kith.no/xmlstds/msghead/2006-05-24"

Kind = Literal["envelope", "receipt", "payload", "attachment"]


@dataclass(frozen=True, slots=True)
class Standard:
    """One message standard in one version, identified by its XML namespace."""

    namespace: str
    name: str
    version: str
    kind: Kind = "payload"
    message_types: tuple[str, ...] = ()

    @property
    def title(self) -> str:
        return f"{self.name} {self.version}"


def _table(*standards: Standard) -> dict[str, Standard]:
    return {s.namespace: s for s in standards}


_PO = "http://www.kith.no/xmlstds/po"
_PO2 = "http://ehelse.no/xmlstds/po"
_LOG = ("LOG_INNLAGT", "LOG_UTSKRIVNINGSKLAR", "LOG_UTSKREVET", "LOG_AVMELDING", "LOG_DOD")

STANDARDS: dict[str, Standard] = _table(
    Standard(MSGHEAD_NS, "MsgHead", "1.2", "envelope"),
    Standard("http://www.kith.no/xmlstds/apprec/2004-11-21", "AppRec", "1.0", "receipt"),
    Standard("http://www.kith.no/xmlstds/apprec/2012-02-15", "AppRec", "1.1", "receipt"),
    Standard("http://www.kith.no/xmlstds/base64container", "Base64Container", "1.0", "attachment"),
    Standard("http://www.kith.no/xmlstds/dialog/2006-10-11", "Dialogmelding", "1.0",
             message_types=("DIALOG_NOTAT", "DIALOG_FORESPORSEL", "DIALOG_SVAR", "DIALOG_AVVIK")),
    Standard("http://www.kith.no/xmlstds/dialog/2013-01-23", "Dialogmelding", "1.1",
             message_types=("DIALOG_HELSEFAGLIG", "DIALOG_STATUS_HENVISNING",
                            "DIALOG_INNBYGGER_EKONTAKT", "DIALOG_INNBYGGER_RESEPTFORNYELSE")),
    Standard("http://www.kith.no/xmlstds/henvisning/2012-02-15", "Henvisning", "1.1"),
    Standard("http://ehelse.no/xmlstds/henvisning/2017-11-30", "Henvisning", "2.0",
             message_types=("HENVISNING_NYTILSTAND", "HENVISNING_VIDERE")),
    Standard("http://www.kith.no/xmlstds/epikrise/2012-02-15", "Epikrise", "1.2"),
    Standard("http://www.kith.no/xmlstds/labsvar/2008-12-01", "Svarrapport", "1.3"),
    Standard("http://www.kith.no/xmlstds/labsvar/2012-02-15", "Svarrapport", "1.4"),
    Standard(f"{_PO}/HelseopplysningerTilLege/2012-04-01", "PLO Helseopplysninger til lege", "1.6",
             message_types=("HELSEOPPLYSNINGER_LEGE",)),
    Standard(f"{_PO}/HelseopplysningerVedSoknad/2012-04-01", "PLO Helseopplysninger", "1.6",
             message_types=("HELSEOPPL_SOKNAD",)),
    Standard(f"{_PO}/Innleggelsesrapport/2012-04-01", "PLO Innleggelsesrapport", "1.6",
             message_types=("INNLEGGELSESRAPPORT",)),
    Standard(f"{_PO}/MedisinskeOpplysninger/2012-04-01", "PLO Medisinske opplysninger", "1.6",
             message_types=("MEDISINSKE_OPPLYSNINGER",)),
    Standard(f"{_PO}/OrienteringOmTjenestetilbud/2012-04-01", "PLO Orientering om tjenestetilbud", "1.6",
             message_types=("ORIENTERING_TJENESTETILBUD",)),
    Standard(f"{_PO}/Pasientlogistikk/2012-04-01", "PLO Pasientlogistikk", "1.6", message_types=_LOG),
    Standard(f"{_PO}/TverrfagligEpikrise/2012-04-01", "PLO Tverrfaglig epikrise", "1.6",
             message_types=("UTSKRIVNINGSRAPPORT",)),
    Standard(f"{_PO2}/HelseopplysningerSaksbehandling/2016-05-30", "PLO Helseopplysninger i saksbehandling", "2.0"),
    Standard(f"{_PO2}/Pasientlogistikk/2016-05-30", "PLO Pasientlogistikk", "2.0"),
    Standard(f"{_PO2}/Sammenfatning/2016-05-30", "PLO Sammenfatning", "2.0"),
)

_ERESEPT_MESSAGES: dict[str, tuple[str, tuple[str, ...]]] = {
    # message: (root element, versions): the targetNamespace (http://www.kith.no/xmlstds/eresept/
    # <message>/<version>, http://www.ehelse.no/... for versions marked e:) and the root element of
    # the published e-resept XSDs (sarepta-skjema/eresept); "" where the root is named by the number.
    "m1": ("Resept", ("2008-10-09", "2008-12-12", "2009-02-20", "2010-05-01", "2013-10-08")),
    "m2": ("SoknadHelfo", ("2014-12-01", "e:2017-12-01")),
    "m3": ("AnmodningSLV", ("2010-05-01",)),
    "m5": ("Tilbakekalling", ("2013-04-16",)),
    "m52": ("KvitteringTilbakekalling", ("2013-12-01",)),
    "m6": ("UtleveringsrapportRekvirent", ("2013-10-08",)),
    "m7": ("SlettetReseptRF", ("2008-05-01",)),
    "m8": ("UtleveringsrapportFastlege", ("2013-10-08",)),
    "m81": ("UtleveringsrapportKjernejournal", ("2013-10-08",)),
    "m10": ("Utleveringsrapport", ("2013-10-08",)),
    "m12": ("Soknadssvar", ("2014-12-01", "e:2017-12-01")),
    "m14": ("SoknadSLV", ("2008-12-12",)),
    "m15": ("SvarSLV", ("2006-10-06",)),
    "m18": ("Oppgjorskrav", ("2013-04-16",)),
    "m20": ("Notifisering", ("2013-10-08",)),
    "m21": ("Ekspederingsanmodning", ("2013-10-08",)),
    "m22": ("Oppgjorsresultat", ("2006-10-06",)),
    "m23": ("Utbetaling", ("2006-10-06",)),
    "m241": ("Samtykke", ("2009-02-20",)),
    "m242": ("SvarSamtykke", ("2008-10-03",)),
    "m25": ("LegemidlerIBruk", ("2013-10-08",)),
    "m251": ("LegemidlerIBruk", ("2013-10-08",)),
    "m252": ("LegemidlerIBruk", ("2013-10-08",)),
    "m253": ("LegemidlerIBruk", ("2013-10-08",)),
    "m254": ("LegemidlerIBruk", ("2013-10-08",)),
    "m271": ("", ("2013-04-16",)),
    "m272": ("", ("2013-04-16",)),
    "m273": ("", ("2012-06-11",)),
    "m274": ("", ("2012-06-11",)),
    "m28": ("", ("2012-06-11",)),
    "m41": ("", ("2006-10-06",)),
    "m42": ("", ("2006-10-06",)),
    "m91": ("ForesporselReseptUtleverer", ("2013-10-08",)),
    "m911": ("", ("2014-01-21", "e:2018-07-01")),
    "m912": ("", ("2014-01-21", "e:2018-07-01")),
    "m92": ("Reseptliste", ("2013-10-08",)),
    "m921": ("", ("2013-10-15",)),
    "m922": ("", ("2013-10-15",)),
    "m93": ("", ("2010-06-04",)),
    "m94": ("ReseptNedlasting", ("2010-07-01",)),
    "m95": ("", ("2015-05-01", "e:2018-07-01")),
    "m96": ("", ("2015-05-01", "e:2018-07-01")),
    "m97": ("", ("2015-05-01", "e:2018-07-01")),
    "m98": ("", ("2015-10-15", "e:2018-07-01")),
    "m9na1": ("", ("2016-06-06",)),
    "m9na2": ("", ("2016-10-26",)),
    "m9na3": ("", ("2016-06-06",)),
    "m9na4": ("", ("2016-06-06",)),
}
ERESEPT_NAMESPACE_PREFIXES = ("http://www.kith.no/xmlstds/eresept/", "http://www.ehelse.no/xmlstds/eresept/")


def eresept_message_type(message: str) -> str:
    """The 8279 message type of an e-resept message: ``m1`` is ERM1, ``m9na1`` is ERM9NA1 (as the
    code system has them; two published examples write ERM041 and ERM042, which it does not have)."""
    return f"ERM{message[1:].upper()}"


def eresept_message_of(namespace: str) -> str | None:
    """``m1`` for ``http://www.kith.no/xmlstds/eresept/m1/2013-10-08``; None for other namespaces."""
    for prefix in ERESEPT_NAMESPACE_PREFIXES:
        if namespace.startswith(prefix):
            part = namespace[len(prefix):].split("/", 1)[0]
            return part if part in _ERESEPT_MESSAGES else None
    return None


def _eresept() -> list[Standard]:
    found = []
    for message, (name, versions) in _ERESEPT_MESSAGES.items():
        for version in versions:
            host = "http://www.ehelse.no/xmlstds/eresept" if version.startswith("e:") else "http://www.kith.no/xmlstds/eresept"
            date = version.removeprefix("e:")
            title = f"e-resept {message.upper()}" + (f" ({name})" if name else "")
            found.append(Standard(f"{host}/{message}/{date}", title, date,
                                  message_types=(eresept_message_type(message),)))
    return found


STANDARDS.update(_table(*_eresept()))

UNSUPPORTED = declared("MSG-001")


@dataclass(frozen=True, slots=True)
class Payload:
    """One payload: its element, its standard (None when the namespace is unknown), where it is."""

    element: etree._Element
    standard: Standard | None
    location: str

    @property
    def namespace(self) -> str:
        return etree.QName(self.element).namespace or ""


@dataclass(frozen=True, slots=True)
class MessageParts:
    """A message split into its envelope standard, its payloads and the namespaces we do not know."""

    envelope: Standard | None
    payloads: tuple[Payload, ...]
    unsupported: tuple[str, ...]
    message_type: str | None = None

    @property
    def namespaces(self) -> tuple[str, ...]:
        """The envelope's namespace (if any) and every payload's, in document order, once each."""
        found = [self.envelope.namespace] if self.envelope else []
        return tuple(dict.fromkeys(found + [p.namespace for p in self.payloads]))


def standard_for(namespace: str | None) -> Standard | None:
    return STANDARDS.get(namespace or "")


def standards_for_type(message_type: str) -> list[Standard]:
    """The standards whose examples use this 8279 message type (often none: the table is small)."""
    return [s for s in STANDARDS.values() if message_type in s.message_types]


def _local(element: etree._Element) -> str:
    return etree.QName(element).localname


def _children(parent: etree._Element) -> list[etree._Element]:
    return [child for child in parent if isinstance(child.tag, str)]


def _step(element: etree._Element, siblings: list[etree._Element], always: bool = False) -> str:
    """``Name`` or ``Name[n]``: indexed when asked to or when a sibling shares the name."""
    same = [s for s in siblings if s.tag == element.tag]
    if always or len(same) > 1:
        return f"{_local(element)}[{same.index(element) + 1}]"
    return _local(element)


def element_path(element: etree._Element) -> str:
    """``/MsgHead/Document[1]/RefDoc/Content/Dialogmelding/...``: local names, indexed where needed."""
    steps = []
    current: etree._Element | None = element
    while current is not None:
        parent = current.getparent()
        siblings = _children(parent) if parent is not None else [current]
        document = parent is not None and is_msghead(parent) and _local(current) == "Document"
        steps.append(_step(current, siblings, always=document))
        current = parent
    return "/" + "/".join(reversed(steps))


def _envelope_payloads(root: etree._Element) -> list[tuple[etree._Element, str]]:
    found = []
    documents = root.findall(f"{{{MSGHEAD_NS}}}Document")
    for index, document in enumerate(documents, start=1):
        content = document.find(f"{{{MSGHEAD_NS}}}RefDoc/{{{MSGHEAD_NS}}}Content")
        if content is None:
            continue
        children = _children(content)
        base = f"/{_local(root)}/Document[{index}]/RefDoc/Content"
        found.extend((child, f"{base}/{_step(child, children)}") for child in children)
    return found


def is_msghead(root: etree._Element) -> bool:
    return root.tag == f"{{{MSGHEAD_NS}}}MsgHead"


def _message_type(root: etree._Element) -> str | None:
    found = root.find(f"{{{MSGHEAD_NS}}}MsgInfo/{{{MSGHEAD_NS}}}Type")
    return None if found is None else found.get("V")


def describe(root: etree._Element) -> MessageParts:
    """The envelope standard (or None), the payloads, and the payload namespaces we do not know."""
    if is_msghead(root):
        envelope, located, message_type = STANDARDS[MSGHEAD_NS], _envelope_payloads(root), _message_type(root)
    else:
        envelope, located, message_type = None, [(root, f"/{_local(root)}")], None
    payloads = tuple(Payload(el, standard_for(etree.QName(el).namespace), where) for el, where in located)
    unsupported = tuple(dict.fromkeys(p.namespace for p in payloads if p.standard is None))
    return MessageParts(envelope, payloads, unsupported, message_type)


def unsupported_issues(parts: MessageParts) -> list[Issue]:
    """One MSG-001 warning per payload whose namespace is not in :data:`STANDARDS`."""
    issues = []
    for payload in parts.payloads:
        if payload.standard is not None:
            continue
        namespace = payload.namespace or "(no namespace)"
        issues.append(UNSUPPORTED.issue(
            f"Payload {_local(payload.element)} is in the namespace {namespace}, which is not a "
            "message standard samsvar knows; it is checked only against an installed XML Schema.",
            expression=payload.location, line=payload.element.sourceline))
    return issues
