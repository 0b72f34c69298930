'use strict';
/*
 * Bot API test server for reviewbot's end-to-end tests.
 *
 * Runs the npm package telegram-test-api (pinned in package.json) on 127.0.0.1 and registers,
 * BEFORE the package's own routes, the fixes python-telegram-bot 22 needs to talk to it as it
 * would to api.telegram.org. Each fix says what real Telegram does.
 *
 *   node start.js [PORT]            (or TELEGRAM_TEST_SERVER_PORT=PORT node start.js)
 *   node start.js PORT --exit-with-parent   (exit when stdin closes: the test harness owns us)
 *
 * Prints "telegram-test-api listening on http://127.0.0.1:PORT" on stdout once it accepts requests.
 *
 * Bot side (what the bot under test calls), with PORT and TOKEN:
 *   POST http://127.0.0.1:PORT/bot<TOKEN>/<method>          form, JSON or multipart parameters
 *   GET  http://127.0.0.1:PORT/file/bot<TOKEN>/<file_path>  bytes of a file from getFile
 * Test-user side (the "client API"; not part of Telegram's API, JSON bodies carry "botToken"):
 *   POST /sendMessage         {botToken, from, chat, text, reply_to_message_id?} -> the Message
 *   POST /sendDocument?botToken=&from=<json>&chat=<json>&file_name=&mime_type=&caption=
 *                             raw file bytes as the body -> the Message with its `document`
 *   POST /sendCallback        {botToken, from, message_id, chat_id, data} -> {id}
 *   POST /getUpdatesHistory   {token} -> every stored user and bot message of that bot (package)
 *   POST /getBotState         {token} -> {commands, chat_actions, callback_answers}
 *   GET  /downloadFile?file_id=  bytes of any stored file (e.g. a document the bot sent)
 *
 * Each bot token has its own updates, chats and history, so tests isolate by using a new token.
 */

const TelegramServer = require('telegram-test-api');
// The package builds its express app in its constructor from this array of
// `(app, telegramServer) => void` route registrars, after its body-parsing middleware and before
// its 404 and error handlers; putting ours first gives our routes precedence.
const { routes: packageRoutes } = require('telegram-test-api/lib/routes/index');

const MAX_MESSAGE_LENGTH = 4096; // UTF-16 code units of the text after entity parsing
const MAX_CAPTION_LENGTH = 1024;
const MAX_DOWNLOAD_SIZE = 20 * 1024 * 1024; // getFile serves files up to 20 MB
const MAX_LONG_POLL_SECONDS = 50;
const MAX_UPLOAD_BYTES = 60 * 1024 * 1024;
const DEFAULT_BOT_USERNAME = process.env.TELEGRAM_TEST_BOT_USERNAME || 'TestNameBot';

/** An error Telegram reports as {"ok": false, "error_code": code, "description": description}. */
class ApiError extends Error {
  constructor(code, description) {
    super(description);
    this.code = code;
    this.description = description;
  }
}
const badRequest = (what) => new ApiError(400, `Bad Request: ${what}`);

// ---------------------------------------------------------------------------------------------
// Small helpers

const nowSeconds = () => Math.floor(Date.now() / 1000);

function fail(res, code, description) {
  res.status(code).json({ ok: false, error_code: code, description });
}

/** Wraps a (possibly async) handler so errors become Telegram-shaped JSON answers. */
function handler(fn) {
  return (req, res, next) => {
    Promise.resolve()
      .then(() => fn(req, res, next))
      .catch((error) => {
        if (error instanceof ApiError) {
          fail(res, error.code, error.description);
          return;
        }
        process.stderr.write(`telegram test server: ${req.method} ${req.path}: ${error.stack}\n`);
        fail(res, 500, `Internal Server Error: ${error.message}`);
      });
  };
}

function readBody(req, limit) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > limit) {
        reject(new ApiError(413, 'Request Entity Too Large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Telegram takes parameters from the query string and the body alike. */
const paramsOf = (req) => ({ ...req.query, ...(req.body || {}) });

/** Form and multipart parameters are strings; objects among them are JSON-serialized. */
function jsonParam(value) {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value);
  } catch (_error) {
    throw badRequest(`can't parse JSON parameter: ${value.slice(0, 100)}`);
  }
}

function boolParam(value) {
  return value === true || value === 'true' || value === 'True' || value === '1' || value === 1;
}

function intParam(value, fallback) {
  if (value === undefined || value === null || value === '') return fallback;
  const number = Number(value);
  return Number.isFinite(number) ? Math.trunc(number) : fallback;
}

function botUser(token) {
  const id = Number(String(token).split(':')[0]);
  return {
    id: Number.isSafeInteger(id) && id > 0 ? id : 666,
    is_bot: true,
    first_name: 'Test Bot',
    username: DEFAULT_BOT_USERNAME,
  };
}

const deepEqual = (a, b) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

// ---------------------------------------------------------------------------------------------
// Telegram's HTML parse mode, after tdlib's parser (td/telegram/MessageEntity.cpp): the same
// tags, entity decoding and error messages, so a bot that forgets to escape user text fails here
// as it would in production.

const HTML_ENTITY_TYPES = {
  b: 'bold',
  strong: 'bold',
  i: 'italic',
  em: 'italic',
  u: 'underline',
  ins: 'underline',
  s: 'strikethrough',
  strike: 'strikethrough',
  del: 'strikethrough',
  'tg-spoiler': 'spoiler',
  span: 'spoiler',
  a: 'text_link',
  code: 'code',
  pre: 'pre',
  blockquote: 'blockquote',
  'tg-emoji': 'custom_emoji',
};

const isSpace = (c) => c === ' ' || c === '\t' || c === '\r' || c === '\n' || c === '\f' || c === '\v';
const isAlnum = (c) => /^[A-Za-z0-9]$/.test(c);

/** Decodes &lt; &gt; &amp; &quot; &#NN; &#xHH; at `i`; anything else stays literal text. */
function decodeHtmlEntity(text, i) {
  let end = i + 1;
  let codePoint;
  if (text[end] === '#') {
    end++;
    let radix = 10;
    if (text[end] === 'x' || text[end] === 'X') {
      radix = 16;
      end++;
    }
    const digits = radix === 16 ? /[0-9a-fA-F]/ : /[0-9]/;
    const start = end;
    while (end < text.length && digits.test(text[end])) end++;
    if (end === start || end - start > 8) return null;
    codePoint = parseInt(text.slice(start, end), radix);
    if (codePoint === 0 || codePoint > 0x10ffff || (codePoint >= 0xd800 && codePoint <= 0xdfff)) {
      return null;
    }
  } else {
    const start = end;
    while (end < text.length && isAlnum(text[end])) end++;
    codePoint = { lt: 0x3c, gt: 0x3e, amp: 0x26, quot: 0x22 }[text.slice(start, end)];
    if (codePoint === undefined) return null;
  }
  if (text[end] !== ';') return null;
  return { char: String.fromCodePoint(codePoint), end: end + 1 };
}

/** Returns {text, entities} or throws "Bad Request: can't parse entities: ...". */
function parseHtml(source) {
  const cantParse = (what) => badRequest(`can't parse entities: ${what}`);
  const byteOffset = (position) => Buffer.byteLength(source.slice(0, position), 'utf8');
  let text = '';
  const entities = [];
  const open = []; // {tag, attributes, offset}
  let i = 0;
  while (i < source.length) {
    const c = source[i];
    if (c === '&') {
      const decoded = decodeHtmlEntity(source, i);
      if (decoded) {
        text += decoded.char;
        i = decoded.end;
        continue;
      }
    }
    if (c !== '<') {
      text += c;
      i++;
      continue;
    }
    const begin = i;
    i++;
    if (source[i] !== '/') {
      // A start tag: <name attribute="value" ...>
      let nameEnd = i;
      while (nameEnd < source.length && !isSpace(source[nameEnd]) && source[nameEnd] !== '>') {
        nameEnd++;
      }
      if (nameEnd >= source.length) throw cantParse(`Unclosed start tag at byte offset ${byteOffset(begin)}`);
      const tag = source.slice(i, nameEnd).toLowerCase();
      if (!(tag in HTML_ENTITY_TYPES)) {
        throw cantParse(`Unsupported start tag "${tag}" at byte offset ${byteOffset(begin)}`);
      }
      const attributes = {};
      i = nameEnd;
      for (;;) {
        while (i < source.length && isSpace(source[i])) i++;
        if (i >= source.length) throw cantParse(`Unclosed start tag at byte offset ${byteOffset(begin)}`);
        if (source[i] === '>') break;
        let attributeEnd = i;
        while (
          attributeEnd < source.length && !isSpace(source[attributeEnd])
          && source[attributeEnd] !== '=' && source[attributeEnd] !== '>'
        ) attributeEnd++;
        const attribute = source.slice(i, attributeEnd).toLowerCase();
        if (attribute === '') {
          throw cantParse(`Empty attribute name in the tag "${tag}" at byte offset ${byteOffset(begin)}`);
        }
        i = attributeEnd;
        while (i < source.length && isSpace(source[i])) i++;
        if (source[i] !== '=') {
          if (i >= source.length) throw cantParse(`Unclosed start tag at byte offset ${byteOffset(begin)}`);
          if (tag === 'blockquote' && attribute === 'expandable') {
            attributes.expandable = true;
            continue;
          }
          throw cantParse(
            `Expected equal sign in declaration of an attribute of the tag "${tag}" at byte offset ${byteOffset(begin)}`,
          );
        }
        i++;
        while (i < source.length && isSpace(source[i])) i++;
        if (i >= source.length) throw cantParse(`Unclosed start tag at byte offset ${byteOffset(begin)}`);
        let rawValue;
        if (source[i] === '"' || source[i] === "'") {
          const quote = source[i];
          const valueEnd = source.indexOf(quote, i + 1);
          if (valueEnd < 0) throw cantParse(`Unclosed start tag at byte offset ${byteOffset(begin)}`);
          rawValue = source.slice(i + 1, valueEnd);
          i = valueEnd + 1;
        } else {
          const valueStart = i;
          while (i < source.length && (isAlnum(source[i]) || source[i] === '.' || source[i] === '-')) i++;
          rawValue = source.slice(valueStart, i);
        }
        attributes[attribute] = rawValue.replace(/&[^;&]*;?/g, (match, offset, whole) => {
          const decoded = decodeHtmlEntity(whole, offset);
          return decoded && decoded.end === offset + match.length ? decoded.char : match;
        });
      }
      i++; // '>'
      if (tag === 'span' && attributes.class !== 'tg-spoiler') {
        throw cantParse(`Tag "span" must have class "tg-spoiler" at byte offset ${byteOffset(begin)}`);
      }
      if (tag === 'tg-emoji' && !/^[0-9]+$/.test(attributes['emoji-id'] || '')) {
        throw cantParse(`Custom emoji entity must contain a valid custom emoji identifier at byte offset ${byteOffset(begin)}`);
      }
      open.push({ tag, attributes, offset: text.length });
      continue;
    }
    // An end tag: </name> or </>
    if (open.length === 0) throw cantParse(`Unexpected end tag at byte offset ${byteOffset(begin)}`);
    i++;
    const nameStart = i;
    while (i < source.length && !isSpace(source[i]) && source[i] !== '>') i++;
    const endTag = source.slice(nameStart, i).toLowerCase();
    while (i < source.length && isSpace(source[i])) i++;
    if (source[i] !== '>') throw cantParse(`Unclosed end tag at byte offset ${byteOffset(begin)}`);
    i++;
    const closing = open.pop();
    const { tag, attributes, offset } = closing;
    if (endTag !== '' && endTag !== tag) {
      throw cantParse(
        `Unmatched end tag at byte offset ${byteOffset(begin)}, expected "</${tag}>", found "</${endTag}>"`,
      );
    }
    const length = text.length - offset;
    if (length === 0) continue;
    const parent = open[open.length - 1];
    if (tag === 'code' && parent && parent.tag === 'pre') {
      // <pre><code class="language-x"> is one pre entity with a language.
      const match = /^language-(.+)$/.exec(attributes.class || '');
      if (match) parent.language = match[1];
      continue;
    }
    const entity = { type: HTML_ENTITY_TYPES[tag], offset, length };
    if (tag === 'a') entity.url = attributes.href !== undefined ? attributes.href : text.slice(offset);
    if (tag === 'blockquote' && attributes.expandable) entity.type = 'expandable_blockquote';
    if (tag === 'tg-emoji') entity.custom_emoji_id = attributes['emoji-id'];
    if (tag === 'pre' && closing.language) entity.language = closing.language;
    entities.push(entity);
  }
  if (open.length > 0) {
    throw cantParse(`Can't find end tag corresponding to start tag "${open[open.length - 1].tag}"`);
  }
  return { text, entities: entities.sort((a, b) => a.offset - b.offset || b.length - a.length) };
}

/** Applies parse_mode / entities to a text or caption the way sendMessage does. */
function formatText(rawText, parseMode, rawEntities) {
  const text = rawText === undefined || rawText === null ? '' : String(rawText);
  const explicitEntities = jsonParam(rawEntities);
  if (explicitEntities !== undefined) return { text, entities: explicitEntities };
  const mode = String(parseMode || '').toLowerCase();
  if (mode === '') return { text, entities: [] };
  if (mode === 'html') return parseHtml(text);
  if (mode === 'markdown' || mode === 'markdownv2') {
    // Limitation: Markdown is not parsed; the text is kept as sent.
    return { text, entities: [] };
  }
  throw badRequest(`unsupported parse_mode`);
}

/** Real Telegram rejects empty (or whitespace-only) and over-long texts. */
function validateMessageText(formatted) {
  if (formatted.text.trim() === '') throw badRequest('message text is empty');
  if (formatted.text.length > MAX_MESSAGE_LENGTH) throw badRequest('message is too long');
}

function validateCaption(formatted) {
  if (formatted.text.length > MAX_CAPTION_LENGTH) throw badRequest('message caption is too long');
}

// ---------------------------------------------------------------------------------------------
// Entities Telegram finds by itself in plain text a user sends: commands, mentions and URLs.

function plainTextEntities(text) {
  const entities = [];
  const patterns = [
    ['bot_command', /(?<![\w/@])\/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?(?![\w/])/g],
    ['mention', /(?<![\w@])@[A-Za-z0-9_]{4,32}(?!\w)/g],
    ['url', /(?<![\w/])https?:\/\/[^\s<>"]+/g],
  ];
  for (const [type, pattern] of patterns) {
    for (const match of text.matchAll(pattern)) {
      entities.push({ type, offset: match.index, length: match[0].length });
    }
  }
  return entities.sort((a, b) => a.offset - b.offset);
}

// ---------------------------------------------------------------------------------------------

function guessMimeType(fileName) {
  const extension = String(fileName || '').toLowerCase().split('.').pop();
  return {
    txt: 'text/plain',
    md: 'text/markdown',
    csv: 'text/csv',
    json: 'application/json',
    jsonl: 'application/octet-stream',
    html: 'text/html',
    pdf: 'application/pdf',
    zip: 'application/zip',
    yaml: 'application/x-yaml',
    yml: 'application/x-yaml',
  }[extension] || 'application/octet-stream';
}

/** Registers every fix; called by the package's constructor before its own routes. */
function compatibilityRoutes(app, server) {
  const files = new Map(); // file_id -> {token, fileUniqueId, filePath, bytes, fileName, mimeType}
  const filesByPath = new Map(); // file_path -> file
  const chats = new Map(); // `${token}|${chatId}` -> chat object, learned from user messages
  const commands = new Map(); // token -> BotCommand[]
  const chatActions = new Map(); // token -> [{chat_id, action, date}]
  const callbackAnswers = new Map(); // token -> [{callback_query_id, text, show_alert}]
  const pollers = new Map(); // token -> pending long poll
  let fileCounter = 0;

  const chatKey = (token, chatId) => `${token}|${Number(chatId)}`;

  function knownChat(token, chatId) {
    const chat = chats.get(chatKey(token, chatId));
    // Real Telegram: a bot can only write to chats that it has seen.
    if (!chat) throw badRequest('chat not found');
    return chat;
  }

  function storeFile(token, bytes, fileName, mimeType) {
    fileCounter++;
    const fileId = `BQACAgIAAx${fileCounter}${Date.now().toString(36)}`;
    const extension = (String(fileName || '').match(/\.[A-Za-z0-9]{1,10}$/) || [''])[0];
    const file = {
      token,
      fileId,
      fileUniqueId: `AgAD${fileCounter}`,
      filePath: `documents/file_${fileCounter}${extension}`,
      bytes,
      fileName,
      mimeType: mimeType || guessMimeType(fileName),
    };
    files.set(fileId, file);
    filesByPath.set(file.filePath, file);
    return file;
  }

  const documentOf = (file) => ({
    file_name: file.fileName,
    mime_type: file.mimeType,
    file_id: file.fileId,
    file_unique_id: file.fileUniqueId,
    file_size: file.bytes.length,
  });

  /** The stored message (user's or bot's) `messageId` in `chatId`, as a Telegram Message. */
  function findMessage(token, chatId, messageId) {
    const id = Number(messageId);
    const bot = server.storage.botMessages.find((u) => u.botToken === token && u.messageId === id
      && Number(u.message.chat_id) === Number(chatId) && !u.deleted);
    if (bot) return bot.result;
    const user = server.storage.userMessages.find((u) => u.botToken === token && u.messageId === id
      && u.message && u.message.chat && Number(u.message.chat.id) === Number(chatId) && !u.deleted);
    if (user) return formatUpdate(user).message;
    return undefined;
  }

  /** reply_parameters (or the older reply_to_message_id) -> the replied-to message. */
  function replyTarget(token, chatId, params) {
    const reply = jsonParam(params.reply_parameters) || (params.reply_to_message_id !== undefined
      ? {
        message_id: params.reply_to_message_id,
        allow_sending_without_reply: boolParam(params.allow_sending_without_reply),
      }
      : undefined);
    if (!reply || reply.message_id === undefined) return undefined;
    const target = findMessage(token, reply.chat_id ?? chatId, reply.message_id);
    if (!target && !boolParam(reply.allow_sending_without_reply)) {
      throw badRequest('message to be replied not found');
    }
    if (!target) return undefined;
    const { reply_to_message: _nested, ...shallow } = target;
    return shallow;
  }

  function addBotMessage(token, params, content) {
    const chat = knownChat(token, params.chat_id);
    const replyTo = replyTarget(token, chat.id, params);
    const messageId = server.messageId++;
    const updateId = server.updateId++;
    const replyMarkup = jsonParam(params.reply_markup);
    const result = {
      message_id: messageId,
      from: botUser(token),
      chat,
      date: nowSeconds(),
      ...content,
      ...(replyTo ? { reply_to_message: replyTo } : {}),
      // Real Telegram echoes only inline keyboards in the sent message.
      ...(replyMarkup && replyMarkup.inline_keyboard ? { reply_markup: replyMarkup } : {}),
    };
    const stored = {
      // The package's StoredBotUpdate shape, so its client routes keep working...
      time: Date.now(),
      botToken: token,
      message: { ...params, chat_id: chat.id, reply_markup: replyMarkup },
      updateId,
      messageId,
      isRead: false,
      // ...plus what the test harness reads.
      result,
      versions: [{
        text: params.text ?? params.caption ?? null,
        parse_mode: params.parse_mode ?? null,
        reply_markup: replyMarkup ?? null,
        date: result.date,
      }],
      deleted: false,
    };
    server.storage.botMessages.push(stored);
    server.emit('AddedBotMessage');
    return result;
  }

  /** Updates as Telegram sends them (the package leaves internal fields and no chat_instance). */
  function formatUpdate(stored) {
    if ('callbackQuery' in stored) {
      const query = stored.callbackQuery;
      return {
        update_id: stored.updateId,
        callback_query: {
          id: String(stored.callbackId),
          from: query.from,
          message: query.message,
          // Real Telegram always sends chat_instance; PTB requires it.
          chat_instance: query.chat_instance || String(query.message ? query.message.chat.id : 0),
          data: query.data,
        },
      };
    }
    const { botToken: _token, ...message } = stored.message;
    return { update_id: stored.updateId, message: { ...message, message_id: stored.messageId } };
  }

  const updateType = (update) => Object.keys(update).find((key) => key !== 'update_id');

  // -- Multipart bodies ------------------------------------------------------------------------
  // The package only parses JSON and urlencoded bodies; PTB sends multipart/form-data whenever a
  // request carries a file (sendDocument). Parse it with Node's built-in fetch Response.
  app.use(handler(async (req, _res, next) => {
    const contentType = req.headers['content-type'] || '';
    if (!contentType.startsWith('multipart/form-data')) {
      next();
      return;
    }
    const raw = await readBody(req, MAX_UPLOAD_BYTES);
    const form = await new Response(raw, { headers: { 'content-type': contentType } }).formData();
    req.body = {};
    req.files = {};
    for (const [name, value] of form) {
      if (typeof value === 'string') {
        req.body[name] = value;
      } else {
        req.files[name] = {
          fileName: value.name,
          mimeType: value.type || undefined,
          bytes: Buffer.from(await value.arrayBuffer()),
        };
      }
    }
    next();
  }));

  // -- Bot API methods -------------------------------------------------------------------------

  // getMe: real Telegram returns a full User; the package omits is_bot, which PTB requires
  // (TypeError at Application.initialize). The id is the token's number, as in Telegram.
  app.all('/bot:token/getMe', handler((req, res) => {
    res.json({
      ok: true,
      result: {
        ...botUser(req.params.token),
        can_join_groups: true,
        can_read_all_group_messages: false,
        supports_inline_queries: false,
        can_connect_to_business: false,
        has_main_web_app: false,
      },
    });
  }));

  // deleteWebhook: real Telegram returns true and, with drop_pending_updates, forgets all
  // pending updates (PTB's start_polling calls it while bootstrapping).
  app.all('/bot:token/deleteWebhook', handler((req, res) => {
    const { token } = req.params;
    if (boolParam(paramsOf(req).drop_pending_updates)) {
      server.storage.userMessages
        .filter((update) => update.botToken === token)
        .forEach((update) => { update.isRead = true; });
    }
    server.deleteWebhook(token);
    res.json({ ok: true, result: true, description: 'Webhook is already deleted' });
  }));

  // getUpdates: real Telegram long-polls, answering as soon as an update arrives or after
  // `timeout` seconds (the package answers at once, so an idle bot busy-polls). An update stays
  // pending until a later call's `offset` is greater than its update_id (the package drops it on
  // first delivery, so a request cancelled during shutdown lost it). A second concurrent
  // getUpdates for the same bot ends the first with 409 Conflict, as on Telegram.
  app.all('/bot:token/getUpdates', handler((req, res) => {
    const { token } = req.params;
    const params = paramsOf(req);
    if (server.webhooks[token]) {
      throw new ApiError(409, "Conflict: can't use getUpdates method while webhook is active; "
        + 'use deleteWebhook to delete the webhook first');
    }
    const offset = intParam(params.offset, 0);
    const limit = Math.min(Math.max(intParam(params.limit, 100), 1), 100);
    const timeout = Math.min(Math.max(Number(params.timeout) || 0, 0), MAX_LONG_POLL_SECONDS);
    const allowed = jsonParam(params.allowed_updates);
    const allowedTypes = Array.isArray(allowed) && allowed.length > 0 ? new Set(allowed) : null;

    const ours = server.storage.userMessages.filter((update) => update.botToken === token);
    ours.filter((update) => update.updateId < offset).forEach((update) => { update.isRead = true; });

    const pending = () => server.storage.userMessages
      .filter((update) => update.botToken === token && !update.isRead && update.updateId >= offset)
      .map(formatUpdate)
      .filter((update) => !allowedTypes || allowedTypes.has(updateType(update)))
      .slice(0, limit);

    let done = false;
    let timer = null;
    const poller = {};
    const finish = (answer) => {
      if (done) return;
      done = true;
      if (timer) clearTimeout(timer);
      if (pollers.get(token) === poller) pollers.delete(token);
      answer();
    };
    poller.wake = () => {
      const updates = pending();
      if (updates.length > 0) finish(() => res.json({ ok: true, result: updates }));
    };
    poller.conflict = () => finish(() => fail(res, 409,
      'Conflict: terminated by other getUpdates request; make sure that only one bot instance is running'));

    const previous = pollers.get(token);
    if (previous) previous.conflict();
    const updates = pending();
    if (updates.length > 0 || timeout === 0) {
      res.json({ ok: true, result: updates });
      return;
    }
    pollers.set(token, poller);
    timer = setTimeout(() => finish(() => res.json({ ok: true, result: [] })), timeout * 1000);
    res.on('close', () => finish(() => {}));
  }));
  const wakePollers = () => [...pollers.values()].forEach((poller) => poller.wake());
  server.on('AddedUserMessage', wakePollers);
  server.on('AddedUserCommand', wakePollers);
  server.on('AddedUserCallbackQuery', wakePollers);

  // sendMessage: real Telegram validates the text (empty, > 4096 characters, bad HTML) and
  // returns the sent Message with `date` in seconds, the real chat and the parsed entities; the
  // package accepts anything and dates the message in milliseconds (PTB: "year 58859 is out of
  // range").
  app.all('/bot:token/sendMessage', handler((req, res) => {
    const params = paramsOf(req);
    const formatted = formatText(params.text, params.parse_mode, params.entities);
    validateMessageText(formatted);
    const result = addBotMessage(req.params.token, params, {
      text: formatted.text,
      ...(formatted.entities.length > 0 ? { entities: formatted.entities } : {}),
    });
    res.json({ ok: true, result });
  }));

  // sendDocument: the package has no file support at all. Real Telegram takes an uploaded file,
  // a file_id it knows, or a URL it downloads (no network here: URLs are rejected).
  app.all('/bot:token/sendDocument', handler((req, res) => {
    const { token } = req.params;
    const params = paramsOf(req);
    let file;
    const uploaded = (req.files || {}).document
      || (typeof params.document === 'string' && params.document.startsWith('attach://')
        ? (req.files || {})[params.document.slice('attach://'.length)] : undefined);
    if (uploaded) {
      file = storeFile(token, uploaded.bytes, uploaded.fileName, uploaded.mimeType);
    } else if (typeof params.document === 'string' && files.has(params.document)) {
      file = files.get(params.document);
    } else if (typeof params.document === 'string' && /^https?:\/\//.test(params.document)) {
      throw badRequest('failed to get HTTP URL content');
    } else {
      throw badRequest(params.document ? 'wrong file identifier/HTTP URL specified' : 'there is no document in the request');
    }
    if (file.bytes.length === 0) throw badRequest('file must be non-empty');
    const caption = formatText(params.caption, params.parse_mode, params.caption_entities);
    validateCaption(caption);
    const result = addBotMessage(token, params, {
      document: documentOf(file),
      ...(caption.text ? { caption: caption.text } : {}),
      ...(caption.entities.length > 0 ? { caption_entities: caption.entities } : {}),
    });
    res.json({ ok: true, result });
  }));

  /** The bot's own, not deleted message `message_id` in `chat_id`, for the edit methods. */
  function messageToEdit(token, params) {
    if (params.inline_message_id !== undefined) {
      throw badRequest('inline messages are not supported by the test server');
    }
    const stored = server.storage.botMessages.find((u) => u.botToken === token
      && u.messageId === Number(params.message_id)
      && Number(u.message.chat_id) === Number(params.chat_id) && !u.deleted);
    if (!stored) throw badRequest('message to edit not found');
    return stored;
  }

  function applyEdit(stored, change) {
    const unchanged = Object.keys(change.result).every((key) => deepEqual(stored.result[key], change.result[key]));
    if (unchanged) {
      throw badRequest('message is not modified: specified new message content and reply markup are '
        + 'exactly the same as a previous content and reply markup of the message');
    }
    const date = nowSeconds();
    stored.result = { ...stored.result, ...change.result, edit_date: date };
    for (const [key, value] of Object.entries(stored.result)) {
      if (value === undefined) delete stored.result[key];
    }
    stored.message = { ...stored.message, ...change.params };
    const last = stored.versions[stored.versions.length - 1];
    stored.versions.push({ ...last, ...change.version, date });
    return stored.result;
  }

  // editMessageText: real Telegram validates like sendMessage, refuses an edit that changes
  // nothing ("message is not modified") and returns the edited Message; the package returns
  // null, which PTB cannot turn into a Message or True.
  app.all('/bot:token/editMessageText', handler((req, res) => {
    const params = paramsOf(req);
    const stored = messageToEdit(req.params.token, params);
    if (stored.result.text === undefined) throw badRequest('there is no text in the message to edit');
    const formatted = formatText(params.text, params.parse_mode, params.entities);
    validateMessageText(formatted);
    const replyMarkup = jsonParam(params.reply_markup);
    const result = applyEdit(stored, {
      result: {
        text: formatted.text,
        entities: formatted.entities.length > 0 ? formatted.entities : undefined,
        reply_markup: replyMarkup && replyMarkup.inline_keyboard ? replyMarkup : undefined,
      },
      params: { text: params.text, parse_mode: params.parse_mode, reply_markup: replyMarkup },
      version: { text: params.text, parse_mode: params.parse_mode ?? null, reply_markup: replyMarkup ?? null },
    });
    res.json({ ok: true, result });
  }));

  // editMessageReplyMarkup: as editMessageText (the package returns null).
  app.all('/bot:token/editMessageReplyMarkup', handler((req, res) => {
    const params = paramsOf(req);
    const stored = messageToEdit(req.params.token, params);
    const replyMarkup = jsonParam(params.reply_markup);
    const result = applyEdit(stored, {
      result: { reply_markup: replyMarkup && replyMarkup.inline_keyboard ? replyMarkup : undefined },
      params: { reply_markup: replyMarkup },
      version: { reply_markup: replyMarkup ?? null },
    });
    res.json({ ok: true, result });
  }));

  // deleteMessage: real Telegram returns true (the package: null) and 400 "message to delete not
  // found". The message stays in the history, marked deleted, so tests can see it happened.
  app.all('/bot:token/deleteMessage', handler((req, res) => {
    const { token } = req.params;
    const params = paramsOf(req);
    const id = Number(params.message_id);
    const chatId = Number(params.chat_id);
    const stored = server.storage.botMessages.find((u) => u.botToken === token && u.messageId === id
      && Number(u.message.chat_id) === chatId && !u.deleted)
      || server.storage.userMessages.find((u) => u.botToken === token && u.messageId === id
        && u.message && u.message.chat && Number(u.message.chat.id) === chatId && !u.deleted);
    if (!stored) throw badRequest('message to delete not found');
    stored.deleted = true;
    res.json({ ok: true, result: true });
  }));

  // sendChatAction: missing in the package (HTTP 500). Real Telegram returns true. Recorded for
  // tests ("the bot shows 'typing'").
  app.all('/bot:token/sendChatAction', handler((req, res) => {
    const { token } = req.params;
    const params = paramsOf(req);
    const chat = knownChat(token, params.chat_id);
    const valid = ['typing', 'upload_photo', 'record_video', 'upload_video', 'record_voice',
      'upload_voice', 'upload_document', 'choose_sticker', 'find_location', 'record_video_note',
      'upload_video_note'];
    if (!valid.includes(params.action)) throw badRequest('wrong parameter action in request');
    if (!chatActions.has(token)) chatActions.set(token, []);
    chatActions.get(token).push({ chat_id: chat.id, action: params.action, date: nowSeconds() });
    res.json({ ok: true, result: true });
  }));

  // setMyCommands / getMyCommands / deleteMyCommands: missing in the package. Real Telegram
  // stores the list (per scope and language; here one list per bot) and returns true.
  app.all('/bot:token/setMyCommands', handler((req, res) => {
    const list = jsonParam(paramsOf(req).commands);
    if (!Array.isArray(list)) throw badRequest('parameter "commands" is required');
    for (const command of list) {
      if (!command || !/^[a-z0-9_]{1,32}$/.test(command.command || '')) throw badRequest('BOT_COMMAND_INVALID');
      if (!command.description || command.description.length > 256) {
        throw badRequest('command description is empty or too long');
      }
    }
    commands.set(req.params.token, list);
    res.json({ ok: true, result: true });
  }));
  app.all('/bot:token/getMyCommands', handler((req, res) => {
    res.json({ ok: true, result: commands.get(req.params.token) || [] });
  }));
  app.all('/bot:token/deleteMyCommands', handler((req, res) => {
    commands.delete(req.params.token);
    res.json({ ok: true, result: true });
  }));

  // Other settings a bot may make at start-up: real Telegram returns true.
  for (const method of ['setMyDescription', 'setMyShortDescription', 'setMyName', 'setChatMenuButton',
    'setMyDefaultAdministratorRights', 'setMessageReaction']) {
    app.all(`/bot:token/${method}`, handler((_req, res) => res.json({ ok: true, result: true })));
  }

  // answerCallbackQuery: real Telegram returns true (the package: null).
  // Recorded for tests ("the bot answered the press with this text").
  app.all('/bot:token/answerCallbackQuery', handler((req, res) => {
    const params = paramsOf(req);
    if (!params.callback_query_id) throw badRequest('query is too old and response timeout expired or query ID is invalid');
    const { token } = req.params;
    if (!callbackAnswers.has(token)) callbackAnswers.set(token, []);
    callbackAnswers.get(token).push({
      callback_query_id: String(params.callback_query_id),
      text: params.text ?? null,
      show_alert: boolParam(params.show_alert),
    });
    res.json({ ok: true, result: true });
  }));

  // getFile: missing in the package. Real Telegram returns a File whose file_path the bot
  // downloads from /file/bot<token>/<file_path>, for files up to 20 MB.
  app.all('/bot:token/getFile', handler((req, res) => {
    const file = files.get(String(paramsOf(req).file_id || ''));
    if (!file || file.token !== req.params.token) throw badRequest('invalid file_id');
    if (file.bytes.length > MAX_DOWNLOAD_SIZE) throw badRequest('file is too big');
    res.json({
      ok: true,
      result: {
        file_id: file.fileId,
        file_unique_id: file.fileUniqueId,
        file_size: file.bytes.length,
        file_path: file.filePath,
      },
    });
  }));
  app.get('/file/bot:token/*', (req, res) => {
    const file = filesByPath.get(req.params[0]);
    if (!file || file.token !== req.params.token) {
      fail(res, 404, 'Not Found');
      return;
    }
    res.type(file.mimeType).send(file.bytes);
  });

  // Any other Bot API method: the package answers HTTP 500 without a description, which PTB
  // reports as an obscure NetworkError. Say clearly that the test server lacks it (400, so PTB
  // raises BadRequest with this text). setWebhook is left to the package.
  app.all('/bot:token/:method', (req, res, next) => {
    if (req.params.method.toLowerCase() === 'setwebhook') {
      next();
      return;
    }
    fail(res, 400, `Bad Request: method ${req.params.method} is not supported by the test server `
      + '(tests/telegram_server/start.js)');
  });

  // -- Test-user (client) API ------------------------------------------------------------------

  function rememberChat(token, message) {
    if (!message.chat || message.chat.id === undefined) throw badRequest('message.chat.id is required');
    if (!message.from || message.from.id === undefined) throw badRequest('message.from.id is required');
    chats.set(chatKey(token, message.chat.id), message.chat);
  }

  async function addUserMessage(token, message) {
    rememberChat(token, message);
    const messageId = server.messageId;
    await server.addUserMessage({ ...message, botToken: token });
    return { ...message, message_id: messageId };
  }

  // Client sendMessage: the package answers null and leaves entities to the caller. Like
  // Telegram, compute command/mention/URL entities, date the message in seconds, resolve a reply,
  // and return the Message (with its message_id).
  app.post('/sendMessage', handler(async (req, res) => {
    const { botToken, reply_to_message_id: replyToId, ...message } = req.body;
    if (!botToken) throw badRequest('botToken is required');
    if (typeof message.text !== 'string' || message.text === '') throw badRequest('message text is empty');
    if (message.entities === undefined) {
      const entities = plainTextEntities(message.text);
      if (entities.length > 0) message.entities = entities;
    }
    message.date = message.date || nowSeconds();
    if (replyToId !== undefined && replyToId !== null) {
      const target = findMessage(botToken, message.chat && message.chat.id, replyToId);
      if (!target) throw badRequest('message to be replied not found');
      const { reply_to_message: _nested, ...shallow } = target;
      message.reply_to_message = shallow;
    }
    res.json({ ok: true, result: await addUserMessage(botToken, message) });
  }));

  // Client sendDocument (not in the package): the body is the raw file; the rest is in the query.
  app.post('/sendDocument', handler(async (req, res) => {
    const params = req.query;
    const token = params.botToken;
    if (!token) throw badRequest('botToken is required');
    const bytes = await readBody(req, MAX_UPLOAD_BYTES);
    if (bytes.length === 0) throw badRequest('file must be non-empty');
    const file = storeFile(token, bytes, params.file_name || 'document', params.mime_type);
    const message = {
      from: jsonParam(params.from),
      chat: jsonParam(params.chat),
      date: nowSeconds(),
      document: documentOf(file),
    };
    if (params.caption) {
      message.caption = params.caption;
      const entities = plainTextEntities(params.caption);
      if (entities.length > 0) message.caption_entities = entities;
    }
    res.json({ ok: true, result: await addUserMessage(token, message) });
  }));

  // Client sendCallback: a user pressing an inline button under the bot's message `message_id`.
  app.post('/sendCallback', handler(async (req, res) => {
    const { botToken, from, chat_id: chatId, message_id: messageId, data } = req.body;
    const message = findMessage(botToken, chatId, messageId);
    if (!message) throw badRequest('message not found');
    const callbackId = server.callbackId;
    await server.addUserCallback({
      botToken,
      from,
      message,
      data,
      chat_instance: String(message.chat.id),
    });
    res.json({ ok: true, result: { id: String(callbackId) } });
  }));

  app.post('/getBotState', handler((req, res) => {
    const { token } = req.body;
    res.json({
      ok: true,
      result: {
        commands: commands.get(token) || [],
        chat_actions: chatActions.get(token) || [],
        callback_answers: callbackAnswers.get(token) || [],
      },
    });
  }));

  app.get('/downloadFile', (req, res) => {
    const file = files.get(String(req.query.file_id || ''));
    if (!file) {
      fail(res, 404, 'Not Found');
      return;
    }
    res.type(file.mimeType).send(file.bytes);
  });
}

// ---------------------------------------------------------------------------------------------

async function main() {
  const args = process.argv.slice(2);
  const port = Number(args.find((arg) => /^[0-9]+$/.test(arg)) || process.env.TELEGRAM_TEST_SERVER_PORT);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) {
    process.stderr.write('usage: node start.js PORT [--exit-with-parent]\n');
    process.exit(2);
  }
  packageRoutes.unshift(compatibilityRoutes);
  // storeTimeout: the package forgets messages older than this (default 60 s), which would empty
  // the history a long test reads; a day is plenty.
  const server = new TelegramServer({ port, host: '127.0.0.1', storeTimeout: 24 * 3600 });
  server.setMaxListeners(0);
  await server.start();
  process.stdout.write(`telegram-test-api listening on http://127.0.0.1:${port}\n`);

  const exit = () => process.exit(0);
  process.on('SIGTERM', exit);
  process.on('SIGINT', exit);
  if (args.includes('--exit-with-parent')) {
    process.stdin.on('end', exit);
    process.stdin.on('close', exit);
    process.stdin.resume();
  }
}

main().catch((error) => {
  process.stderr.write(`telegram test server failed to start: ${error.stack || error}\n`);
  process.exit(1);
});
