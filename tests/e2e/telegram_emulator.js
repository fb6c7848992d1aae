#!/usr/bin/env node
/*
 * Launcher for telegram-test-api 4.2.1 (a Telegram Bot API emulator), patched so that
 * python-telegram-bot 22.x can talk to it. Usage:
 *
 *     node telegram_emulator.js PORT
 *
 * Prints `TELEGRAM_EMULATOR_READY http://127.0.0.1:PORT` on stdout once it listens.
 *
 * The emulator keeps its own storage, client routes (`/getUpdates`, `/getUpdatesHistory`) and
 * data model; the routes below are installed in front of the package's own routes (by
 * prepending to the package's route list before the server is built) and fix the
 * incompatibilities listed in shared/TESTING.md:
 *   - getMe carries `is_bot` (and a bot id taken from the token, as Telegram does);
 *   - messages returned to the bot are real Message objects: `date` in seconds, a `chat`,
 *     a `from`, only inline keyboards in `reply_markup`, `reply_to_message`, media objects;
 *   - editMessageText / editMessageReplyMarkup / editMessageCaption return `true`, update the
 *     stored message and mark it unread again so the user side sees the edit;
 *   - callback_query updates carry `chat_instance` and the full pressed message;
 *   - bot-side getUpdates honours `offset` (confirmation), `limit` and `timeout` (long poll,
 *     capped by TELEGRAM_EMULATOR_MAX_POLL seconds, default 2);
 *   - sendPhoto / sendDocument / sendAudio / sendVoice / sendVideo / sendAnimation /
 *     sendSticker are stored as messages (multipart uploads included); getFile and
 *     /file/bot<token>/<path> serve files;
 *   - any other method answers `{ok: true, result: true}` instead of HTTP 500;
 *   - webhooks get the `X-Telegram-Bot-Api-Secret-Token` header, and a webhook that is down
 *     neither kills the process nor corrupts the counters.
 * Extra client routes: `/getBotCalls {token, method?}` (every Bot API call the bot made) and
 * `/putFile {content_base64, file_id?, file_name?, mime_type?}` (a file the bot can download).
 *
 * Flood control, per token and off unless a test turns it on: `/setLimits {token, per_second,
 * per_chat_interval_ms}` makes the send methods answer 429 with `parameters.retry_after` (whole
 * seconds, as Telegram) when accepting one would put more than `per_second` accepted sends of the
 * token within 1000 ms, or a send to a chat closer than `per_chat_interval_ms` to the chat's
 * previous accepted send. `/getLimitStats {token}` returns `{accepted: [{time, chat_id}],
 * rejected: [{time, chat_id, reason, retry_after}]}` with times in ms (fractional) at the emulator.
 */
'use strict';

const crypto = require('crypto');

const TelegramServer = require('telegram-test-api');
const routeIndex = require('telegram-test-api/lib/routes/index');

const MAX_POLL_SECONDS = Number(process.env.TELEGRAM_EMULATOR_MAX_POLL || 2);
const WEBHOOK_TIMEOUT_MS = 10000;
const MEDIA_FIELDS = ['photo', 'document', 'audio', 'voice', 'video', 'animation', 'sticker'];
const JSON_FIELDS = [
  'reply_markup', 'entities', 'caption_entities', 'reply_parameters', 'link_preview_options',
  'commands', 'scope', 'allowed_updates', 'menu_button', 'media',
];

process.on('unhandledRejection', (reason) => {
  console.error(`[telegram-emulator] unhandled rejection: ${reason && reason.stack ? reason.stack : reason}`);
});

// ---------------------------------------------------------------- helpers

function botIdFromToken(token) {
  const m = /^(\d+):/.exec(String(token));
  return m ? Number(m[1]) : 666;
}

function botUser(token) {
  return {
    id: botIdFromToken(token),
    is_bot: true,
    first_name: 'Test First name',
    username: 'TestNameBot',
  };
}

function nowSeconds() {
  return Math.floor(Date.now() / 1000);
}

function parseJsonField(value) {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value);
  } catch (_e) {
    return value;
  }
}

function normalizeParams(params) {
  const out = { ...params };
  for (const key of JSON_FIELDS) {
    if (key in out) out[key] = parseJsonField(out[key]);
  }
  return out;
}

function uniqueId(fileId) {
  return `u${crypto.createHash('sha1').update(String(fileId)).digest('hex').slice(0, 15)}`;
}

function ok(res, result) {
  res.json({ ok: true, result });
}

function badRequest(res, description, code = 400) {
  res.status(code).json({ ok: false, error_code: code, description: `Bad Request: ${description}` });
}

// Minimal multipart/form-data parser (python-telegram-bot uploads files that way; the
// package only installs JSON and urlencoded body parsers).
function multipart(req, res, next) {
  const type = req.headers['content-type'] || '';
  if (!type.startsWith('multipart/form-data')) {
    next();
    return;
  }
  const m = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(type);
  if (!m) {
    next();
    return;
  }
  const boundary = Buffer.from(`--${m[1] || m[2]}`);
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('error', next);
  req.on('end', () => {
    const raw = Buffer.concat(chunks);
    const fields = {};
    const files = {};
    let pos = raw.indexOf(boundary);
    while (pos !== -1) {
      let start = pos + boundary.length;
      if (raw.slice(start, start + 2).toString() === '--') break;
      start += 2; // CRLF
      const headerEnd = raw.indexOf('\r\n\r\n', start);
      if (headerEnd === -1) break;
      const headers = raw.slice(start, headerEnd).toString('utf8');
      const next_ = raw.indexOf(boundary, headerEnd + 4);
      if (next_ === -1) break;
      const body = raw.slice(headerEnd + 4, next_ - 2); // strip CRLF before boundary
      const name = /name="([^"]*)"/i.exec(headers);
      const filename = /filename="([^"]*)"/i.exec(headers);
      const ctype = /content-type:\s*([^\r\n]+)/i.exec(headers);
      if (name) {
        if (filename) {
          files[name[1]] = {
            filename: filename[1],
            mimeType: ctype ? ctype[1].trim() : 'application/octet-stream',
            buffer: body,
          };
        } else {
          fields[name[1]] = body.toString('utf8');
        }
      }
      pos = next_;
    }
    req.body = fields;
    req.files = files;
    next();
  });
}

// ---------------------------------------------------------------- the server

class PatchedTelegramServer extends TelegramServer {
  constructor(config) {
    super(config);
    this.setMaxListeners(0);
    this.chats = new Map(); // chat id -> chat object seen from the user side
    this.files = new Map(); // file id -> {buffer, filename, mimeType}
    this.calls = []; // every Bot API call: {botToken, method, params, time}
    this.fileCounter = 1;
    this.limits = new Map(); // token -> {perSecond, perChatMs, accepted: [], rejected: [], chatLast: Map}
  }

  // Flood control (only for tokens with limits): null when the send may go, else the 429 to answer.
  floodCheck(token, chatId) {
    const limits = this.limits.get(token);
    if (!limits) return null;
    const now = performance.timeOrigin + performance.now();
    const chat = String(chatId);
    let waitMs = 0;
    let reason = '';
    const last = limits.chatLast.get(chat);
    if (limits.perChatMs > 0 && last !== undefined && now - last < limits.perChatMs) {
      waitMs = limits.perChatMs - (now - last);
      reason = 'chat';
    }
    const recent = limits.accepted.filter((a) => now - a.time < 1000);
    if (limits.perSecond > 0 && recent.length >= limits.perSecond) {
      const global = recent[recent.length - limits.perSecond].time + 1000 - now;
      if (global > waitMs) {
        waitMs = global;
        reason = 'global';
      }
    }
    if (reason) {
      const retryAfter = Math.max(1, Math.ceil(waitMs / 1000));
      limits.rejected.push({ time: now, chat_id: chat, reason, retry_after: retryAfter });
      return retryAfter;
    }
    limits.accepted.push({ time: now, chat_id: chat });
    limits.chatLast.set(chat, now);
    return null;
  }

  chatFor(chatId) {
    const known = this.chats.get(String(chatId));
    if (known) return known;
    const id = Number(chatId);
    return { id: Number.isFinite(id) ? id : String(chatId), type: 'private', first_name: 'User' };
  }

  // A stored bot message as Telegram would return it to the bot.
  botMessageView(entry, withReply = true) {
    const m = entry.message;
    const out = {
      message_id: entry.messageId,
      from: botUser(entry.botToken),
      chat: this.chatFor(m.chat_id),
      date: Math.floor(entry.time / 1000),
    };
    const media = MEDIA_FIELDS.find((f) => m[f] !== undefined);
    if (media) {
      const fileId = String(m[media]);
      const base = { file_id: fileId, file_unique_id: uniqueId(fileId) };
      const stored = this.files.get(fileId);
      if (stored) base.file_size = stored.buffer.length;
      const objects = {
        photo: () => [{ ...base, width: 320, height: 320 }],
        document: () => ({ ...base, file_name: m.file_name || (stored && stored.filename) || 'file', mime_type: (stored && stored.mimeType) || 'application/octet-stream' }),
        audio: () => ({ ...base, duration: 1 }),
        voice: () => ({ ...base, duration: 1 }),
        video: () => ({ ...base, width: 320, height: 240, duration: 1 }),
        animation: () => ({ ...base, width: 320, height: 240, duration: 1 }),
        sticker: () => ({ ...base, width: 512, height: 512, is_animated: false, is_video: false, type: 'regular' }),
      };
      out[media] = objects[media]();
      if (m.caption !== undefined) out.caption = String(m.caption);
      if (Array.isArray(m.caption_entities)) out.caption_entities = m.caption_entities;
    } else if (m.text !== undefined) {
      out.text = String(m.text);
      if (Array.isArray(m.entities)) out.entities = m.entities;
    }
    if (m.reply_markup && typeof m.reply_markup === 'object' && 'inline_keyboard' in m.reply_markup) {
      out.reply_markup = m.reply_markup;
    }
    if (entry.editTime) out.edit_date = Math.floor(entry.editTime / 1000);
    if (withReply) {
      const replyId = m.reply_parameters && typeof m.reply_parameters === 'object'
        ? m.reply_parameters.message_id : m.reply_to_message_id;
      if (replyId !== undefined) {
        const replied = this.findMessageView(entry.botToken, m.chat_id, replyId);
        if (replied) out.reply_to_message = replied;
      }
    }
    return out;
  }

  // A stored user message as Telegram delivers it to the bot.
  userMessageView(update) {
    const { botToken, ...message } = update.message;
    return { ...message, message_id: update.messageId };
  }

  findMessageView(botToken, chatId, messageId) {
    const id = Number(messageId);
    const bot = this.storage.botMessages.find((u) => u.botToken === botToken
      && u.messageId === id && (chatId === undefined || String(u.message.chat_id) === String(chatId)));
    if (bot) return this.botMessageView(bot, false);
    const user = this.storage.userMessages.find((u) => u.botToken === botToken
      && u.message && u.messageId === id
      && (chatId === undefined || String(u.message.chat && u.message.chat.id) === String(chatId)));
    if (user) {
      const view = this.userMessageView(user);
      delete view.reply_to_message;
      return view;
    }
    return null;
  }

  addBotMessage(rawMessage, botToken) {
    const entry = {
      time: Date.now(),
      botToken,
      message: normalizeParams(rawMessage),
      updateId: this.updateId,
      messageId: this.messageId,
      isRead: false,
    };
    this.storage.botMessages.push(entry);
    this.messageId++;
    this.updateId++;
    this.emit('AddedBotMessage');
    return this.botMessageView(entry);
  }

  findBotEntry(botToken, params) {
    return this.storage.botMessages.find((u) => u.botToken === botToken
      && String(u.messageId) === String(params.message_id)
      && String(u.message.chat_id) === String(params.chat_id));
  }

  // Counters are taken synchronously, before any await, so concurrent client requests (or a
  // slow webhook) never hand out the same update_id / message_id twice.
  takeCommonFields(botToken, withMessageId) {
    const common = {
      time: Date.now(),
      botToken,
      updateId: this.updateId,
      messageId: this.messageId,
      isRead: false,
    };
    this.updateId++;
    if (withMessageId) this.messageId++;
    return common;
  }

  async addUserMessage(message) {
    const update = { ...this.takeCommonFields(message.botToken, true), message };
    await this.addUserUpdate(update);
    this.emit('AddedUserMessage');
    return update;
  }

  async addUserCommand(message) {
    const update = { ...this.takeCommonFields(message.botToken, true), message, entities: message.entities };
    await this.addUserUpdate(update);
    this.emit('AddedUserCommand');
    return update;
  }

  async addUserCallback(callbackQuery) {
    const update = {
      ...this.takeCommonFields(callbackQuery.botToken, false),
      callbackQuery,
      callbackId: this.callbackId,
    };
    this.callbackId++;
    await this.addUserUpdate(update);
    this.emit('AddedUserCallbackQuery');
    return update;
  }

  async addUserUpdate(update) {
    if (!update.botToken) throw new Error('The update must carry a `botToken` field.');
    const webhook = this.webhooks[update.botToken];
    this.storage.userMessages.push(update);
    if (!webhook) {
      this.emit(`userUpdate:${update.botToken}`);
      return;
    }
    // Delivered by webhook: keep it in the history, never hand it out by getUpdates.
    update.isRead = true;
    update.confirmed = true;
    const headers = { 'content-type': 'application/json' };
    if (webhook.secret_token) headers['x-telegram-bot-api-secret-token'] = webhook.secret_token;
    const resp = await fetch(webhook.url, {
      method: 'POST',
      headers,
      body: JSON.stringify(this.formatUpdate(update)),
      signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
    });
    if (resp.status > 299) {
      throw new Error(`Webhook ${webhook.url} answered HTTP ${resp.status}: ${await resp.text()}`);
    }
  }

  formatUpdate(update) {
    if ('callbackQuery' in update) {
      const cq = update.callbackQuery;
      return {
        update_id: update.updateId,
        callback_query: {
          id: String(update.callbackId),
          from: cq.from,
          message: cq.message,
          chat_instance: cq.chat_instance,
          data: cq.data,
        },
      };
    }
    return { update_id: update.updateId, message: this.userMessageView(update) };
  }

  pendingUpdates(botToken, offset) {
    return this.storage.userMessages
      .filter((u) => u.botToken === botToken && !u.confirmed && u.updateId >= offset)
      .sort((a, b) => a.updateId - b.updateId);
  }

  // Telegram's semantics: updates with update_id < offset are confirmed and never returned
  // again; a negative offset keeps only the last -offset updates.
  confirmUpTo(botToken, offset) {
    const mine = this.storage.userMessages.filter((u) => u.botToken === botToken && !u.confirmed);
    if (offset > 0) {
      mine.filter((u) => u.updateId < offset).forEach((u) => { u.confirmed = true; u.isRead = true; });
      return offset;
    }
    if (offset < 0) {
      const keep = mine.sort((a, b) => a.updateId - b.updateId).slice(offset);
      mine.filter((u) => !keep.includes(u)).forEach((u) => { u.confirmed = true; u.isRead = true; });
    }
    return 0;
  }

  dropPending(botToken) {
    this.storage.userMessages
      .filter((u) => u.botToken === botToken)
      .forEach((u) => { u.confirmed = true; u.isRead = true; });
  }
}

// ---------------------------------------------------------------- routes

function params(req) {
  return { ...req.query, ...(req.body || {}) };
}

function installPatches(app, server) {
  app.use(multipart);

  // Record every Bot API call (files reduced to their names) for /getBotCalls.
  app.all('/bot:token/:method', (req, _res, next) => {
    const p = params(req);
    const files = req.files || {};
    for (const [k, f] of Object.entries(files)) p[k] = { upload: f.filename, size: f.buffer.length };
    server.calls.push({ botToken: req.params.token, method: req.params.method, params: normalizeParams(p), time: Date.now() });
    next();
  });

  // ---------------- client side (the user)

  const rememberChat = (message) => {
    if (message && message.chat && message.chat.id !== undefined) {
      server.chats.set(String(message.chat.id), message.chat);
    }
  };

  const prepareUserMessage = (body) => {
    const message = { ...body };
    if (message.date === undefined) message.date = nowSeconds();
    if (message.reply_to_message_id !== undefined) {
      const chatId = message.chat && message.chat.id;
      message.reply_to_message = server.findMessageView(message.botToken, chatId, message.reply_to_message_id)
        || { message_id: Number(message.reply_to_message_id), date: message.date, chat: message.chat };
      delete message.reply_to_message_id;
    }
    rememberChat(message);
    return message;
  };

  const clientSend = (path, add) => {
    app.post(path, async (req, res) => {
      try {
        const message = prepareUserMessage(req.body);
        if (!message.botToken) {
          res.status(400).json({ ok: false, description: 'botToken is required' });
          return;
        }
        const update = await add(message);
        ok(res, { update_id: update.updateId, message_id: update.messageId });
      } catch (e) {
        console.error(`[telegram-emulator] ${path}: ${e}`);
        res.status(502).json({ ok: false, description: String(e) });
      }
    });
  };

  clientSend('/sendMessage', (message) => server.addUserMessage(message));
  clientSend('/sendCommand', (message) => {
    if (!message.entities) {
      const text = String(message.text || '');
      const space = text.indexOf(' ');
      message.entities = [{ offset: 0, length: space === -1 ? text.length : space, type: 'bot_command' }];
    }
    return server.addUserCommand(message);
  });

  app.post('/sendCallback', async (req, res) => {
    try {
      const body = { ...req.body };
      if (!body.botToken) {
        res.status(400).json({ ok: false, description: 'botToken is required' });
        return;
      }
      const chat = body.chat || (body.message && body.message.chat) || (body.from && { id: body.from.id, type: 'private' });
      const messageId = body.message_id !== undefined ? body.message_id : body.message && body.message.message_id;
      let message = null;
      if (messageId !== undefined) {
        message = server.findMessageView(body.botToken, chat && chat.id, messageId);
      }
      if (!message && body.message && body.message.message_id !== undefined) {
        message = { date: nowSeconds(), chat, ...body.message };
      }
      if (!message) {
        res.status(400).json({ ok: false, description: `message ${messageId} not found in chat ${chat && chat.id}` });
        return;
      }
      const chatInstance = String(body.chat_instance || crypto.createHash('sha1')
        .update(`${body.botToken}/${message.chat.id}`).digest('hex').slice(0, 16));
      const callbackQuery = {
        botToken: body.botToken, from: body.from, message, data: body.data, chat_instance: chatInstance,
      };
      const update = await server.addUserCallback(callbackQuery);
      ok(res, { update_id: update.updateId, callback_query_id: String(update.callbackId) });
    } catch (e) {
      console.error(`[telegram-emulator] /sendCallback: ${e}`);
      res.status(502).json({ ok: false, description: String(e) });
    }
  });

  app.post('/setLimits', (req, res) => {
    const b = req.body || {};
    if (!b.token) {
      res.status(400).json({ ok: false, description: 'token is required' });
      return;
    }
    server.limits.set(String(b.token), {
      perSecond: Number(b.per_second || 0),
      perChatMs: Number(b.per_chat_interval_ms || 0),
      accepted: [],
      rejected: [],
      chatLast: new Map(),
    });
    ok(res, true);
  });

  app.post('/getLimitStats', (req, res) => {
    const limits = server.limits.get(String((req.body || {}).token));
    ok(res, limits ? { accepted: limits.accepted, rejected: limits.rejected } : { accepted: [], rejected: [] });
  });

  app.post('/getBotCalls', (req, res) => {
    const { token, method } = req.body;
    ok(res, server.calls.filter((c) => c.botToken === token && (!method || c.method === method)));
  });

  app.post('/putFile', (req, res) => {
    const b = req.body || {};
    const fileId = b.file_id || `file-${server.fileCounter++}`;
    server.files.set(fileId, {
      buffer: Buffer.from(b.content_base64 || '', 'base64'),
      filename: b.file_name || fileId,
      mimeType: b.mime_type || 'application/octet-stream',
    });
    ok(res, { file_id: fileId, file_unique_id: uniqueId(fileId) });
  });

  // ---------------- bot side

  const bot = (method, handler) => app.all(`/bot:token/${method}`, (req, res, next) => {
    try {
      handler(req, res, next);
    } catch (e) {
      next(e);
    }
  });

  // Telegram's flood control, for tokens a test gave limits (see /setLimits).
  const SEND_METHODS = new Set(['sendMessage', 'sendPhoto', 'sendDocument', 'sendAudio', 'sendVoice',
    'sendVideo', 'sendAnimation', 'sendSticker']);
  app.all('/bot:token/:method', (req, res, next) => {
    if (!SEND_METHODS.has(req.params.method)) {
      next();
      return;
    }
    const retryAfter = server.floodCheck(req.params.token, params(req).chat_id);
    if (retryAfter === null) {
      next();
      return;
    }
    res.status(429).json({
      ok: false, error_code: 429, description: `Too Many Requests: retry after ${retryAfter}`,
      parameters: { retry_after: retryAfter },
    });
  });

  bot('getMe', (req, res) => ok(res, {
    ...botUser(req.params.token),
    can_join_groups: true,
    can_read_all_group_messages: false,
    supports_inline_queries: false,
  }));

  bot('getUpdates', (req, res) => {
    const token = req.params.token;
    const p = params(req);
    const offset = server.confirmUpTo(token, Number(p.offset || 0));
    const limit = Math.min(Math.max(Number(p.limit || 100), 1), 100);
    const timeoutMs = Math.min(Math.max(Number(p.timeout || 0), 0), MAX_POLL_SECONDS) * 1000;
    const answer = () => {
      const updates = server.pendingUpdates(token, offset).slice(0, limit);
      updates.forEach((u) => { u.isRead = true; });
      ok(res, updates.map((u) => server.formatUpdate(u)));
    };
    if (timeoutMs === 0 || server.pendingUpdates(token, offset).length > 0) {
      answer();
      return;
    }
    const event = `userUpdate:${token}`;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      server.off(event, onUpdate);
      if (!res.writableEnded && !req.socket.destroyed) answer();
    };
    const onUpdate = () => setImmediate(finish);
    const timer = setTimeout(finish, timeoutMs);
    server.on(event, onUpdate);
    res.on('close', () => {
      done = true;
      clearTimeout(timer);
      server.off(event, onUpdate);
    });
  });

  bot('sendMessage', (req, res) => {
    const p = params(req);
    if (p.chat_id === undefined || p.chat_id === '') return badRequest(res, 'chat_id is empty');
    if (p.text === undefined || String(p.text).trim() === '') return badRequest(res, 'message text is empty');
    return ok(res, server.addBotMessage(p, req.params.token));
  });

  const mediaMethod = (method, field) => bot(method, (req, res) => {
    const p = params(req);
    if (p.chat_id === undefined || p.chat_id === '') return badRequest(res, 'chat_id is empty');
    const upload = req.files && req.files[field];
    let fileId = p[field];
    if (upload) {
      fileId = `${field}-${server.fileCounter++}`;
      server.files.set(fileId, upload);
      if (field === 'document' && !p.file_name) p.file_name = upload.filename;
    } else if (typeof fileId === 'string' && fileId.startsWith('attach://')) {
      fileId = `${field}-${server.fileCounter++}`;
    }
    if (fileId === undefined || fileId === '') return badRequest(res, `there is no ${field} in the request`);
    const stored = { ...p, [field]: String(fileId) };
    stored.text = p.caption !== undefined ? String(p.caption) : '';
    return ok(res, server.addBotMessage(stored, req.params.token));
  });
  mediaMethod('sendPhoto', 'photo');
  mediaMethod('sendDocument', 'document');
  mediaMethod('sendAudio', 'audio');
  mediaMethod('sendVoice', 'voice');
  mediaMethod('sendVideo', 'video');
  mediaMethod('sendAnimation', 'animation');
  mediaMethod('sendSticker', 'sticker');

  const edit = (method, apply) => bot(method, (req, res) => {
    const p = normalizeParams(params(req));
    if (p.inline_message_id) return ok(res, true);
    const entry = server.findBotEntry(req.params.token, p);
    if (!entry) return badRequest(res, 'message to edit not found');
    const error = apply(entry, p);
    if (error) return badRequest(res, error);
    entry.editTime = Date.now();
    entry.isRead = false; // the user side sees the edited message again
    entry.message.edited = true;
    server.emit(method === 'editMessageReplyMarkup' ? 'EditedMessageReplyMarkup' : 'EditedMessageText');
    return ok(res, true);
  });
  const setMarkup = (entry, p) => {
    if (p.reply_markup && typeof p.reply_markup === 'object') entry.message.reply_markup = p.reply_markup;
    else delete entry.message.reply_markup; // Telegram drops the keyboard when none is given
  };
  edit('editMessageText', (entry, p) => {
    if (p.text === undefined || String(p.text).trim() === '') return 'message text is empty';
    entry.message.text = String(p.text);
    if (p.entities) entry.message.entities = p.entities; else delete entry.message.entities;
    if (p.parse_mode) entry.message.parse_mode = p.parse_mode;
    setMarkup(entry, p);
    return null;
  });
  edit('editMessageCaption', (entry, p) => {
    entry.message.caption = p.caption;
    entry.message.text = p.caption !== undefined ? String(p.caption) : '';
    setMarkup(entry, p);
    return null;
  });
  edit('editMessageReplyMarkup', (entry, p) => {
    setMarkup(entry, p);
    return null;
  });

  bot('deleteMessage', (req, res) => {
    const p = params(req);
    const deleted = server.deleteMessage(Number(p.chat_id), Number(p.message_id));
    if (!deleted) return badRequest(res, 'message to delete not found');
    return ok(res, true);
  });

  bot('setWebhook', (req, res) => {
    const p = params(req);
    if (!p.url) {
      server.deleteWebhook(req.params.token);
      return ok(res, true);
    }
    server.setWebhook(p, req.params.token);
    if (p.drop_pending_updates === 'true' || p.drop_pending_updates === true) server.dropPending(req.params.token);
    return ok(res, true);
  });

  bot('deleteWebhook', (req, res) => {
    const p = params(req);
    server.deleteWebhook(req.params.token);
    if (p.drop_pending_updates === 'true' || p.drop_pending_updates === true) server.dropPending(req.params.token);
    ok(res, true);
  });

  bot('getWebhookInfo', (req, res) => {
    const hook = server.webhooks[req.params.token];
    ok(res, {
      url: hook ? hook.url : '',
      has_custom_certificate: false,
      pending_update_count: server.pendingUpdates(req.params.token, 0).length,
    });
  });

  bot('getMyCommands', (req, res) => {
    const set = [...server.calls].reverse().find((c) => c.botToken === req.params.token
      && (c.method === 'setMyCommands' || c.method === 'deleteMyCommands'));
    ok(res, set && set.method === 'setMyCommands' && Array.isArray(set.params.commands) ? set.params.commands : []);
  });

  bot('getFile', (req, res) => {
    const fileId = String(params(req).file_id || '');
    if (!fileId) return badRequest(res, 'file_id is empty');
    const stored = server.files.get(fileId);
    return ok(res, {
      file_id: fileId,
      file_unique_id: uniqueId(fileId),
      file_size: stored ? stored.buffer.length : 0,
      file_path: `files/${encodeURIComponent(fileId)}`,
    });
  });

  app.get('/file/bot:token/files/:fileId', (req, res) => {
    const stored = server.files.get(req.params.fileId);
    if (!stored) {
      res.status(404).json({ ok: false, error_code: 404, description: 'Not Found' });
      return;
    }
    res.type(stored.mimeType).send(stored.buffer);
  });

  // Everything else (setMyCommands, deleteMyCommands, sendChatAction, answerCallbackQuery,
  // setChatMenuButton, close, logOut, ...) succeeds instead of answering HTTP 500.
  bot(':method', (_req, res) => ok(res, true));
}

routeIndex.routes.unshift(installPatches);

// ---------------------------------------------------------------- main

async function main() {
  const port = Number(process.argv[2] || process.env.PORT);
  if (!Number.isInteger(port) || port <= 0) {
    console.error('usage: node telegram_emulator.js PORT');
    process.exit(2);
  }
  const server = new PatchedTelegramServer({ port, host: '127.0.0.1', storeTimeout: 600 });
  await server.start();
  console.log(`TELEGRAM_EMULATOR_READY http://127.0.0.1:${port}`);

  let stopping = false;
  const stop = async (signal) => {
    if (stopping) return;
    stopping = true;
    console.log(`telegram emulator stopping on ${signal}`);
    const force = setTimeout(() => process.exit(0), 2000);
    force.unref();
    try {
      await server.stop();
    } finally {
      process.exit(0);
    }
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // Exit when the parent (the test run) goes away without stopping us.
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) stop('parent exit');
  }, 1000).unref();
}

main().catch((e) => {
  console.error(`[telegram-emulator] failed to start: ${e && e.stack ? e.stack : e}`);
  process.exit(1);
});
