"""The bot's fixed texts in German and English, chosen by the user's Telegram language."""

from __future__ import annotations

from telegram import User

PHRASES: dict[str, dict[str, str]] = {
    "en": {
        "start": "Hello! Ask me anything about the film reviews I know — I answer with numbered, "
        "quoted sources. /help shows what else I can do.",
        "help": "Ask a question in plain words (in groups: mention me, reply to me or use /ask).\n"
        "/ask QUESTION — ask in a group\n"
        "/sources — the full sources of my last answer (or press Sources under it)\n"
        "/works — the films with review counts and ratings\n"
        "/stats — what is indexed\n"
        "/reset — forget our conversation",
        "help_admin": "Admins: /reindex re-reads the reviews folder; send a review file "
        "(txt, md, json, jsonl, csv, html; up to 5 MB) to add it. If the folder is empty, "
        "/reindex removes nothing unless you confirm it with /reindex allow-empty.",
        "refused": "Sorry, this bot is private.",
        "admins_only": "Sorry, only admins may do that.",
        "ask_usage": "Please write your question after /ask, e.g. /ask Who directed Ballerina?",
        "too_long": "That question is too long ({length} characters). Please ask in at most "
        "{limit} characters.",
        "sources": "Sources",
        "sources_for": "Sources for",
        "no_sources": "That answer has no sources.",
        "no_answer_yet": "There is no answer to show sources for yet — ask me something first.",
        "no_works": "No reviews are indexed yet.",
        "works_line": "{count} review(s)",
        "average": "average rating {rating}",
        "reset": "Done — I have forgotten our conversation.",
        "rate_limited": "Easy, one thing at a time! Please wait {seconds} s before the next "
        "question.",
        "error": "Sorry, something went wrong with that. Please try again later.",
        "index_locked": "The reviews are being re-indexed right now. Please try again in a moment.",
        "index_empty": "No reviews are indexed yet.",
        "reindexing": "Re-indexing the reviews…",
        "reindex_usage": "/reindex re-reads the reviews folder; /reindex allow-empty also "
        "removes every review when the folder is empty.",
        "reindex_locked": "Another index run is going on right now (another /reindex or "
        "`reviewbot index`), so I did not start one. Please try again when it has finished.",
        "source_empty": "The reviews folder holds no review files any more (is a drive not "
        "mounted?), so I changed nothing and kept every review. If they really should all "
        "go, send /reindex allow-empty.",
        "report": "Indexed: {added} added, {updated} updated, {removed} removed, "
        "{unchanged} unchanged, {failed} failed.",
        "more": "… and {count} more",
        "upload_type": "I can only add review files of these types: {types}.",
        "upload_size": "That file is too large: the limit is {limit} MB.",
        "upload_unreadable": "I did not add {name}: it has no review I can read.",
        "upload_same": "{name} is already in the reviews folder; nothing changed.",
        "upload_saved": "Saved as {name}.",
        "upload_not_indexed": "Saved as {name}, but not indexed yet: another index run is "
        "going on. Send /reindex when it has finished.",
        "upload_source_empty": "I did not save {name}: the reviews folder holds no review "
        "files any more (is a drive not mounted?), and adding one would remove every other "
        "review. If they really should all go, send /reindex allow-empty first.",
        "sources_button": "Sources",
        "liked": "Thanks — glad it helped!",
        "disliked": "Thanks — noted, that answer was not good enough.",
        "answer_gone": "I no longer have that answer; please ask again.",
        "narrowed": "Got it: follow-up questions are now about {work}.",
        "stats_reviews": "Reviews",
        "stats_works": "Works",
        "stats_chunks": "Passages",
        "stats_languages": "Languages",
        "stats_embedder": "Embedder",
        "stats_last_index": "Last indexed",
    },
    "de": {
        "start": "Hallo! Frag mich alles zu den Filmkritiken, die ich kenne — ich antworte mit "
        "nummerierten, zitierten Quellen. /help zeigt, was ich sonst kann.",
        "help": "Stell deine Frage einfach so (in Gruppen: erwähne mich, antworte auf mich "
        "oder nutze /ask).\n"
        "/ask FRAGE — in Gruppen fragen\n"
        "/sources — die vollständigen Quellen meiner letzten Antwort (oder tippe "
        "darunter auf Quellen)\n"
        "/works — die Filme mit Zahl der Kritiken und Bewertungen\n"
        "/stats — was indexiert ist\n"
        "/reset — unser Gespräch vergessen",
        "help_admin": "Admins: /reindex liest den Kritiken-Ordner neu ein; schick mir eine "
        "Kritik als Datei (txt, md, json, jsonl, csv, html; bis 5 MB), um sie hinzuzufügen. "
        "Ist der Ordner leer, entfernt /reindex nichts, außer du bestätigst es mit "
        "/reindex allow-empty.",
        "refused": "Entschuldigung, dieser Bot ist nicht öffentlich.",
        "admins_only": "Entschuldigung, das dürfen nur Admins.",
        "ask_usage": "Bitte schreib deine Frage hinter /ask, z. B. /ask Wer hat bei Ballerina "
        "Regie geführt?",
        "too_long": "Die Frage ist zu lang ({length} Zeichen). Bitte frag in höchstens {limit} "
        "Zeichen.",
        "sources": "Quellen",
        "sources_for": "Quellen zu",
        "no_sources": "Diese Antwort hat keine Quellen.",
        "no_answer_yet": "Es gibt noch keine Antwort, zu der ich Quellen zeigen könnte — frag "
        "mich zuerst etwas.",
        "no_works": "Es sind noch keine Kritiken indexiert.",
        "works_line": "{count} Kritik(en)",
        "average": "Bewertung im Schnitt {rating}",
        "reset": "Erledigt — ich habe unser Gespräch vergessen.",
        "rate_limited": "Langsam, eins nach dem anderen! Bitte warte {seconds} s bis zur "
        "nächsten Frage.",
        "error": "Entschuldigung, dabei ist etwas schiefgegangen. Bitte versuch es später noch "
        "einmal.",
        "index_locked": "Die Kritiken werden gerade neu indexiert. Bitte versuch es gleich noch "
        "einmal.",
        "index_empty": "Es sind noch keine Kritiken indexiert.",
        "reindexing": "Ich indexiere die Kritiken neu…",
        "reindex_usage": "/reindex liest den Kritiken-Ordner neu ein; /reindex allow-empty "
        "entfernt auch alle Kritiken, wenn der Ordner leer ist.",
        "reindex_locked": "Gerade läuft schon eine Indexierung (ein anderes /reindex oder "
        "`reviewbot index`), darum habe ich keine gestartet. Bitte versuch es noch einmal, "
        "wenn sie fertig ist.",
        "source_empty": "Im Kritiken-Ordner liegen keine Kritik-Dateien mehr (ist ein Laufwerk "
        "nicht eingebunden?), darum habe ich nichts geändert und alle Kritiken behalten. "
        "Wenn sie wirklich alle weg sollen, schick /reindex allow-empty.",
        "report": "Indexiert: {added} neu, {updated} geändert, {removed} entfernt, "
        "{unchanged} unverändert, {failed} fehlgeschlagen.",
        "more": "… und {count} weitere",
        "upload_type": "Ich kann nur Kritiken in diesen Formaten hinzufügen: {types}.",
        "upload_size": "Die Datei ist zu groß: erlaubt sind {limit} MB.",
        "upload_unreadable": "Ich habe {name} nicht hinzugefügt: Sie enthält keine Kritik, die "
        "ich lesen kann.",
        "upload_same": "{name} liegt schon im Kritiken-Ordner; nichts geändert.",
        "upload_saved": "Gespeichert als {name}.",
        "upload_not_indexed": "Gespeichert als {name}, aber noch nicht indexiert: gerade läuft "
        "eine andere Indexierung. Schick /reindex, wenn sie fertig ist.",
        "upload_source_empty": "Ich habe {name} nicht gespeichert: Im Kritiken-Ordner liegen "
        "keine Kritik-Dateien mehr (ist ein Laufwerk nicht eingebunden?), und eine neue "
        "würde alle anderen Kritiken entfernen. Wenn sie wirklich alle weg sollen, schick "
        "zuerst /reindex allow-empty.",
        "sources_button": "Quellen",
        "liked": "Danke — schön, dass es geholfen hat!",
        "disliked": "Danke — notiert, diese Antwort war nicht gut genug.",
        "answer_gone": "Diese Antwort habe ich nicht mehr; bitte frag noch einmal.",
        "narrowed": "Alles klar: Folgefragen beziehen sich jetzt auf {work}.",
        "stats_reviews": "Kritiken",
        "stats_works": "Werke",
        "stats_chunks": "Abschnitte",
        "stats_languages": "Sprachen",
        "stats_embedder": "Embedder",
        "stats_last_index": "Zuletzt indexiert",
    },
}

COMMANDS: dict[str, list[tuple[str, str]]] = {
    "en": [
        ("ask", "Ask a question about the reviews"),
        ("sources", "Full sources of the last answer"),
        ("works", "Films with review counts and ratings"),
        ("stats", "What is indexed"),
        ("reset", "Forget our conversation"),
        ("help", "What this bot can do"),
    ],
    "de": [
        ("ask", "Eine Frage zu den Kritiken stellen"),
        ("sources", "Vollständige Quellen der letzten Antwort"),
        ("works", "Filme mit Zahl der Kritiken und Bewertungen"),
        ("stats", "Was indexiert ist"),
        ("reset", "Unser Gespräch vergessen"),
        ("help", "Was dieser Bot kann"),
    ],
}
ADMIN_COMMANDS: dict[str, list[tuple[str, str]]] = {
    "en": [("reindex", "Re-read the reviews folder (allow-empty: even if it is empty)")],
    "de": [("reindex", "Den Kritiken-Ordner neu einlesen (allow-empty: auch wenn er leer ist)")],
}


def language_of(user: User | None) -> str:
    """ "de" for users whose Telegram speaks German, else "en"."""
    code = (user.language_code or "") if user else ""
    return "de" if code.lower().startswith("de") else "en"


def phrase(language: str, key: str, **values: object) -> str:
    """A fixed phrase in ``language`` (English if unknown), with ``values`` filled in."""
    return PHRASES.get(language, PHRASES["en"])[key].format(**values)
