// ragway web admin: one small single-page app over /api/admin/* and /v1/*.
// Plain DOM (no framework, no build step). Every visible string goes through
// the translation table `I18N`; untrusted text is only ever set as text.
(function () {
  'use strict';

  // ------------------------------------------------------------------
  // Translations: key -> [English, 中文]. `{name}` is replaced by t(key, {name}).
  // ------------------------------------------------------------------
  const I18N = {
    'app.title': ['ragway admin', 'ragway 管理后台'],
    'app.tagline': ['Knowledge chat gateway', '知识库对话网关'],
    'lang.label': ['Language', '语言'],

    'nav.main': ['Overview', '概览'],
    'nav.config': ['Configuration', '配置'],
    'nav.data': ['Data', '数据'],
    'nav.dashboard': ['Dashboard', '仪表盘'],
    'nav.playground': ['Playground', '对话测试'],
    'nav.providers': ['Providers', '上游服务'],
    'nav.models': ['Models', '模型'],
    'nav.settings': ['Settings', '设置'],
    'nav.knowledge': ['Knowledge', '知识库'],
    'nav.keys': ['API keys', 'API 密钥'],
    'nav.conversations': ['Conversations', '会话记录'],
    'nav.logs': ['Logs', '日志'],
    'nav.logout': ['Log out', '退出登录'],
    'nav.menu': ['Menu', '菜单'],

    'common.save': ['Save', '保存'],
    'common.saved': ['Saved', '已保存'],
    'common.cancel': ['Cancel', '取消'],
    'common.close': ['Close', '关闭'],
    'common.delete': ['Delete', '删除'],
    'common.edit': ['Edit', '编辑'],
    'common.create': ['Create', '创建'],
    'common.confirm': ['Confirm', '确认'],
    'common.retry': ['Retry', '重试'],
    'common.refresh': ['Refresh', '刷新'],
    'common.loading': ['Loading…', '加载中…'],
    'common.load_more': ['Load more', '加载更多'],
    'common.copy': ['Copy', '复制'],
    'common.copied': ['Copied', '已复制'],
    'common.copy_failed': ['Could not copy; select the text and copy it by hand.', '无法自动复制，请手动选中文本复制。'],
    'common.yes': ['Yes', '是'],
    'common.no': ['No', '否'],
    'common.none': ['None', '无'],
    'common.never': ['Never', '从未'],
    'common.default': ['Default', '默认'],
    'common.default_is': ['Default: {value}', '默认：{value}'],
    'common.reset': ['Reset to default', '恢复默认'],
    'common.optional': ['optional', '可选'],
    'common.all': ['All', '全部'],
    'common.name': ['Name', '名称'],
    'common.description': ['Description', '描述'],
    'common.created': ['Created', '创建时间'],
    'common.updated': ['Updated', '更新时间'],
    'common.status': ['Status', '状态'],
    'common.actions': ['Actions', '操作'],
    'common.back': ['Back', '返回'],
    'common.unknown': ['Unknown', '未知'],
    'common.search': ['Search', '搜索'],
    'common.on': ['On', '开'],
    'common.off': ['Off', '关'],

    'err.network': ['Could not reach the server. Check your connection and try again.', '无法连接服务器，请检查网络后重试。'],
    'err.session': ['Your session has ended. Please log in again.', '登录已失效，请重新登录。'],
    'err.generic': ['Something went wrong.', '出了点问题。'],
    'err.load': ['Could not load this page.', '页面加载失败。'],

    // Setup
    'setup.title': ['Welcome to ragway', '欢迎使用 ragway'],
    'setup.subtitle': ['Set the admin password to finish setting up this server.', '设置管理员密码，完成服务器初始化。'],
    'setup.password': ['Admin password', '管理员密码'],
    'setup.password2': ['Repeat the password', '再次输入密码'],
    'setup.password_hint': ['At least 12 characters. A short sentence works well.', '至少 12 个字符，用一句短语更好记。'],
    'setup.too_short': ['The password needs at least 12 characters ({count} so far).', '密码至少需要 12 个字符（当前 {count} 个）。'],
    'setup.mismatch': ['The two passwords differ.', '两次输入的密码不一致。'],
    'setup.providers': ['Connect upstream providers now', '现在连接上游服务'],
    'setup.providers_hint': ['Optional: any OpenAI-compatible service. You can change these later under Providers; empty roles keep the server settings.', '可选：任何兼容 OpenAI 的服务。之后可在「上游服务」中修改；留空的保持服务器配置。'],
    'setup.submit': ['Finish setup', '完成初始化'],
    'setup.done_title': ['Setup complete', '初始化完成'],
    'setup.done_body': ['This is your first API key. Clients (LobeChat, ChatBox, scripts…) send it as a Bearer token.', '这是你的第一个 API 密钥，客户端（LobeChat、ChatBox、脚本等）以 Bearer 令牌方式发送它。'],
    'setup.continue': ['Go to the dashboard', '进入仪表盘'],

    // Login
    'login.title': ['Sign in', '登录'],
    'login.subtitle': ['Enter the admin password of this server.', '请输入本服务器的管理员密码。'],
    'login.password': ['Password', '密码'],
    'login.submit': ['Sign in', '登录'],
    'login.out': ['You have logged out.', '已退出登录。'],

    // Secret display
    'secret.once': ['Copy it now: it is shown only once and cannot be read back later.', '请立即复制：密钥只显示这一次，之后无法再次查看。'],
    'secret.kept': ['This browser tab keeps it for the Playground until you close it.', '在关闭本标签页之前，对话测试页面可直接使用此密钥。'],

    // Dashboard
    'dash.title': ['Dashboard', '仪表盘'],
    'dash.subtitle': ['Health of this server and what it holds.', '服务器运行状况与数据概览。'],
    'dash.service': ['Service', '服务'],
    'dash.status': ['Status', '状态'],
    'dash.version': ['Version', '版本'],
    'dash.database': ['Database', '数据库'],
    'dash.vector_store': ['Vector store', '向量存储'],
    'dash.blob_store': ['File store', '文件存储'],
    'dash.queue': ['Ingest queue', '入库队列'],
    'dash.queue_value': ['{ingest} documents · {reindex} reindex jobs', '{ingest} 个文档 · {reindex} 个重建任务'],
    'dash.index': ['Knowledge index', '知识索引'],
    'dash.index_status': ['Index status', '索引状态'],
    'dash.configured_model': ['Configured model', '配置的模型'],
    'dash.index_model': ['Index built with', '索引所用模型'],
    'dash.connect': ['Connect a client', '接入客户端'],
    'dash.connect_sub': ['Any OpenAI-compatible client works: set the base URL, an API key and one of the models.', '任何兼容 OpenAI 的客户端均可接入：填写接口地址、API 密钥和下列任一模型。'],
    'dash.base_url': ['Base URL', '接口地址'],
    'dash.model_names': ['Models', '模型'],
    'dash.key_link': ['Create an API key', '创建 API 密钥'],
    'dash.example': ['Example', '示例'],
    'dash.dimension': ['Dimension', '维度'],
    'dash.upstreams': ['Upstreams', '上游服务'],
    'dash.manage': ['Manage', '管理'],
    'dash.counts': ['At a glance', '数据概览'],
    'dash.documents': ['Documents', '文档'],
    'dash.collections': ['Collections', '知识集合'],
    'dash.conversations': ['Conversations', '会话'],
    'dash.keys': ['Active keys', '有效密钥'],
    'dash.models': ['Models', '模型'],
    'dash.mismatch_title': ['The knowledge index uses another embedding model', '知识索引使用的向量模型与当前配置不同'],
    'dash.mismatch_body': ['Chat keeps using the index until it is rebuilt with {model}.', '在用 {model} 重建索引之前，对话仍使用旧索引。'],
    'dash.reindex': ['Rebuild the index', '重建索引'],
    'dash.reindex_started': ['Reindex started.', '已开始重建索引。'],
    'dash.reindexing': ['Reindexing with {model}: {done} / {total} documents', '正在用 {model} 重建：{done} / {total} 个文档'],
    'dash.reindex_error': ['Reindex error: {error}', '重建出错：{error}'],
    'status.ok': ['OK', '正常'],
    'status.down': ['Down', '故障'],
    'status.degraded': ['Degraded', '降级'],
    'status.empty': ['Empty', '空'],
    'status.mismatch': ['Mismatch', '模型不一致'],
    'status.reindexing': ['Reindexing', '重建中'],
    'status.configured': ['Configured', '已配置'],
    'status.not_configured': ['Not configured', '未配置'],
    'status.pending': ['Pending', '排队中'],
    'status.processing': ['Processing', '处理中'],
    'status.ready': ['Ready', '就绪'],
    'status.failed': ['Failed', '失败'],
    'status.active': ['Active', '有效'],
    'status.revoked': ['Revoked', '已吊销'],
    'status.expired': ['Expired', '已过期'],
    'status.cooling': ['Cooling', '冷却中'],
    'status.blocked': ['Blocked', '已停用'],

    // Providers
    'prov.title': ['Providers', '上游服务'],
    'prov.subtitle': ['The OpenAI-compatible services ragway calls. Values saved here override the server settings.', 'ragway 调用的兼容 OpenAI 的服务。此处保存的值优先于服务器配置。'],
    'prov.chat': ['Chat', '对话'],
    'prov.embeddings': ['Embeddings', '向量嵌入'],
    'prov.images': ['Images', '图像生成'],
    'prov.rerank': ['Rerank', '重排序'],
    'prov.chat_desc': ['Answers questions (/chat/completions).', '生成回答（/chat/completions）。'],
    'prov.embeddings_desc': ['Turns documents and questions into vectors (/embeddings).', '将文档与问题转换为向量（/embeddings）。'],
    'prov.images_desc': ['Draws pictures for drawing prompts (/images/generations).', '根据绘画指令生成图片（/images/generations）。'],
    'prov.rerank_desc': ['Reorders retrieved passages (/rerank).', '对检索结果重新排序（/rerank）。'],
    'prov.base_url': ['Base URL', '接口地址'],
    'prov.model': ['Model', '模型'],
    'prov.api_key': ['API key', 'API 密钥'],
    'prov.key_saved': ['Saved: {masked} — type a new one to replace it', '已保存：{masked}，输入新值可替换'],
    'prov.key_none': ['No key (leave empty if none is needed)', '未设置（无需密钥可留空）'],
    'prov.clear_key': ['Remove the saved key', '移除已保存的密钥'],
    'prov.source_admin': ['Saved in admin', '后台已保存'],
    'prov.source_settings': ['Server settings', '服务器配置'],
    'prov.test': ['Test', '测试'],
    'prov.list_models': ['Load model list', '获取模型列表'],
    'prov.models_loaded': ['{count} models found.', '找到 {count} 个模型。'],
    'prov.models_none': ['The provider listed no models.', '该服务未返回模型列表。'],
    'prov.reset': ['Use server settings', '恢复为服务器配置'],
    'prov.reset_confirm': ['Forget what was saved here for {role} and go back to the server settings?', '清除此处为「{role}」保存的配置，恢复为服务器配置？'],
    'prov.saved': ['{role} saved.', '「{role}」已保存。'],
    'prov.reset_done': ['{role} now uses the server settings.', '「{role}」已恢复为服务器配置。'],
    'prov.test_ok': ['Works · {ms} ms · {model}', '可用 · {ms} 毫秒 · {model}'],
    'prov.test_fail': ['Failed', '失败'],
    'prov.updated': ['Saved {time}', '保存于 {time}'],
    'prov.keys_saved': ['Saved: {count} keys — type new ones (comma separated) to replace them all', '已保存 {count} 个密钥，输入新值（逗号分隔）将全部替换'],

    // Key pools (Providers page)
    'pool.title': ['Key pools', '密钥池'],
    'pool.subtitle': ['Each role may hold several API keys; calls take turns. A key that gets a 429 rests for that model for a while; a key refused with 401/403 is blocked until you enable it.', '每个角色可保存多个 API 密钥，调用轮流使用。收到 429 的密钥会对该模型暂停一段时间；被 401/403 拒绝的密钥会被停用，直到手动启用。'],
    'pool.keys_one': ['1 key', '1 个密钥'],
    'pool.keys_many': ['{n} keys', '{n} 个密钥'],
    'pool.active': ['{n} active', '{n} 个可用'],
    'pool.cooling': ['{n} cooling', '{n} 个冷却中'],
    'pool.blocked': ['{n} blocked', '{n} 个已停用'],
    'pool.retries_one': ['1 retry', '重试 1 次'],
    'pool.retries_many': ['{n} retries', '重试 {n} 次'],
    'pool.errors': ['Errors', '错误'],
    'pool.no_errors': ['No errors', '无错误'],
    'pool.errors_hint': ['Failed calls since the server started, by status', '服务器启动以来的失败调用，按状态分类'],
    'pool.no_key': ['No key', '无密钥'],
    'pool.keyless_hint': ['Calls are made without a key. Add one or more to make a pool.', '调用时不带密钥。添加一个或多个密钥即可组成密钥池。'],
    'pool.cooling_until': ['until {time}', '至 {time}'],
    'pool.blocked_since': ['blocked since {time}', '{time} 起停用'],
    'pool.requests_one': ['1 request', '1 次请求'],
    'pool.requests_many': ['{n} requests', '{n} 次请求'],
    'pool.failures': ['{n} failed', '{n} 次失败'],
    'pool.rate_limited': ['{n} × 429', '{n} 次 429'],
    'pool.last_used': ['last used {time}', '最近使用 {time}'],
    'pool.never_used': ['not used yet', '尚未使用'],
    'pool.last_error': ['Last error: {error}', '最近错误：{error}'],
    'pool.fingerprint': ['Fingerprint (first 8 hex digits of the key\u2019s SHA-256)', '指纹（密钥 SHA-256 的前 8 位）'],
    'pool.enable': ['Enable', '启用'],
    'pool.remove': ['Remove', '移除'],
    'pool.remove_title': ['Remove this key?', '移除此密钥？'],
    'pool.remove_confirm': ['Take {key} out of the {role} pool? Calls stop using it at once.', '将 {key} 从「{role}」密钥池中移除？调用会立即停止使用它。'],
    'pool.remove_last': ['Take {key} out of the {role} pool? It is the only key: calls will then be made without one.', '将 {key} 从「{role}」密钥池中移除？这是唯一的密钥，之后调用将不带密钥。'],
    'pool.new_key': ['New key for {role}', '「{role}」的新密钥'],
    'pool.new_key_ph': ['sk-… (several: comma separated)', 'sk-…（多个用逗号分隔）'],
    'pool.add': ['Add key', '添加密钥'],
    'pool.key_required': ['Enter a key first.', '请先输入密钥。'],
    'pool.added': ['Key added to {role}.', '已向「{role}」添加密钥。'],
    'pool.added_many': ['{n} keys added to {role}.', '已向「{role}」添加 {n} 个密钥。'],
    'pool.removed': ['Key {key} removed from {role}.', '已从「{role}」移除密钥 {key}。'],
    'pool.enabled': ['Key {key} enabled.', '密钥 {key} 已启用。'],
    'pool.load_failed': ['Could not load the key pools: {error}', '无法加载密钥池：{error}'],
    'pool.dash_keys': ['{active}/{keys} keys', '{active}/{keys} 个密钥'],
    'pool.dash_keys_title': ['{active} of {keys} keys can take calls now ({cooling} cooling, {blocked} blocked)', '{keys} 个密钥中 {active} 个可用（{cooling} 个冷却中，{blocked} 个已停用）'],

    // Models
    'models.title': ['Models', '模型'],
    'models.subtitle': ['The model names clients choose. Each maps to an upstream chat model with its own prompt and knowledge.', '客户端可选的模型名称，每个对应一个上游对话模型，并有独立的提示词与知识范围。'],
    'models.new': ['New model', '新建模型'],
    'models.edit': ['Edit model {id}', '编辑模型 {id}'],
    'models.create_title': ['New model', '新建模型'],
    'models.id': ['Model name', '模型名称'],
    'models.id_hint': ['What clients send as "model". 1–64 characters, no spaces.', '客户端发送的 "model" 值，1–64 个字符，不含空格。'],
    'models.upstream': ['Upstream chat model', '上游对话模型'],
    'models.upstream_hint': ['Empty: the chat provider\u2019s model.', '留空则使用对话服务的默认模型。'],
    'models.system_prompt': ['System prompt', '系统提示词'],
    'models.system_prompt_hint': ['Empty: the global system prompt from Settings.', '留空则使用「设置」中的全局提示词。'],
    'models.collections': ['Knowledge collections', '知识集合'],
    'models.collections_hint': ['None selected: every shared collection.', '不选择则检索全部共享集合。'],
    'models.retrieval': ['Answer from the knowledge base', '基于知识库回答'],
    'models.rerank': ['Rerank the sources', '对来源重排序'],
    'models.drawing': ['Draw pictures for drawing prompts', '识别绘画指令并生成图片'],
    'models.citation_footer': ['Append a list of sources', '在回答末尾附上来源列表'],
    'models.top_k': ['Sources per question', '每次检索来源数'],
    'models.score_threshold': ['Minimum score', '最低相似度'],
    'models.score_hint': ['Cosine similarity from -1 to 1; empty: no minimum.', '余弦相似度，-1 到 1；留空则不限制。'],
    'models.max_messages': ['Messages sent upstream', '上传消息条数上限'],
    'models.draw_triggers': ['Drawing triggers', '绘画触发词'],
    'models.triggers_hint': ['Comma separated; empty: the global triggers ({value}).', '以逗号分隔；留空则使用全局触发词（{value}）。'],
    'models.global': ['Global: {value}', '全局：{value}'],
    'models.builtin': ['Built-in', '内置'],
    'models.builtin_hint': ['Named by RAGWAY_PUBLIC_MODEL; editing it saves an override.', '由 RAGWAY_PUBLIC_MODEL 指定；编辑后会保存为覆盖配置。'],
    'models.all_collections': ['All shared', '全部共享集合'],
    'models.features': ['Features', '功能'],
    'models.empty': ['No models yet', '还没有模型'],
    'models.created': ['Model {id} created.', '模型 {id} 已创建。'],
    'models.updated': ['Model {id} saved.', '模型 {id} 已保存。'],
    'models.deleted': ['Model {id} deleted.', '模型 {id} 已删除。'],
    'models.delete_confirm': ['Delete the model {id}? Clients using this name will get an error.', '删除模型 {id}？使用该名称的客户端将会报错。'],
    'models.no_collections': ['No collections yet: create them under Knowledge.', '还没有知识集合，可在「知识库」中创建。'],
    'models.feature_retrieval': ['Knowledge', '知识库'],
    'models.feature_rerank': ['Rerank', '重排序'],
    'models.feature_drawing': ['Drawing', '绘画'],
    'models.feature_footer': ['Citations', '引用列表'],
    'models.retrieval_section': ['Retrieval', '检索'],
    'models.limits_section': ['Limits and drawing', '限制与绘画'],

    // Keys
    'keys.title': ['API keys', 'API 密钥'],
    'keys.subtitle': ['Keys that clients use to call the API. A key\u2019s secret is shown only once, when it is created.', '客户端调用 API 所用的密钥。密钥明文仅在创建时显示一次。'],
    'keys.create': ['Create a key', '创建密钥'],
    'keys.name': ['Name', '名称'],
    'keys.name_ph': ['e.g. LobeChat at home', '例如：家里的 LobeChat'],
    'keys.role': ['Role', '角色'],
    'keys.role_user': ['User', '普通用户'],
    'keys.role_admin': ['Admin', '管理员'],
    'keys.expires': ['Expires', '过期时间'],
    'keys.expires_hint': ['Optional; the key stops working at the end of that day.', '可选；到期当天结束后失效。'],
    'keys.prefix': ['Key', '密钥'],
    'keys.last_used': ['Last used', '最近使用'],
    'keys.created_title': ['Key created', '密钥已创建'],
    'keys.secret_label': ['Secret for {name}', '「{name}」的密钥'],
    'keys.revoke': ['Revoke', '吊销'],
    'keys.revoke_title': ['Revoke this key?', '吊销此密钥？'],
    'keys.revoke_confirm': ['Clients using {name} ({prefix}…) will be refused from now on. This cannot be undone.', '使用「{name}」（{prefix}…）的客户端将立即被拒绝，此操作不可撤销。'],
    'keys.revoked': ['Key {name} revoked.', '密钥「{name}」已吊销。'],
    'keys.empty': ['No keys yet', '还没有密钥'],
    'keys.name_required': ['Give the key a name.', '请为密钥命名。'],
    'keys.try': ['Open the Playground', '去对话测试'],
    'keys.created_on': ['Created {time}', '创建于 {time}'],
    'keys.rpm': ['Requests / minute', '每分钟请求数'],
    'keys.tpd': ['Tokens / day', '每日 Token 数'],
    'keys.no_limit': ['No limit', '不限'],
    'keys.limits': ['Limits', '限额'],
    'keys.limits_none': ['None', '无'],
    'keys.rpm_value': ['{n}/min', '{n} 次/分钟'],
    'keys.tpd_value': ['{n} tokens/day', '{n} Token/天'],
    'keys.limits_hint': ['Expiry and limits are optional; a request over a limit is refused with 429.', '过期时间和限额均为可选；超出限额的请求会被拒绝（429）。'],
    'keys.edit_title': ['Edit key “{name}”', '编辑密钥「{name}」'],
    'keys.edit_limits_hint': ['Empty: no limit.', '留空表示不限。'],
    'keys.edit_expires_hint': ['Empty: never expires. The key stops working at the end of that day.', '留空表示永不过期；到期当天结束后失效。'],
    'keys.saved': ['Key {name} saved.', '密钥「{name}」已保存。'],

    // Knowledge
    'kb.title': ['Knowledge', '知识库'],
    'kb.subtitle': ['Collections and documents that answers are grounded in.', '回答所依据的知识集合与文档。'],
    'kb.add': ['Add documents', '添加文档'],
    'kb.tab_upload': ['Upload files', '上传文件'],
    'kb.tab_paste': ['Paste text', '粘贴文本'],
    'kb.collection': ['Collection', '集合'],
    'kb.drop': ['Drop files here or click to choose', '拖拽文件到此处，或点击选择'],
    'kb.drop_hint': ['txt, md, html, pdf, docx, csv, json · up to {size} each', '支持 txt、md、html、pdf、docx、csv、json · 单个最大 {size}'],
    'kb.uploading': ['Uploading', '上传中'],
    'kb.uploaded': ['Uploaded', '已上传'],
    'kb.doc_title': ['Title', '标题'],
    'kb.doc_title_ph': ['e.g. Ferry timetable', '例如：渡轮时刻表'],
    'kb.doc_text': ['Text', '正文'],
    'kb.doc_text_ph': ['Paste or type the text here…', '在此粘贴或输入文本…'],
    'kb.doc_submit': ['Add to knowledge', '加入知识库'],
    'kb.text_required': ['Enter some text first.', '请先输入文本。'],
    'kb.added': ['“{title}” added; it is being indexed.', '已添加「{title}」，正在建立索引。'],
    'kb.duplicate': ['“{title}” is already in the knowledge base.', '「{title}」已在知识库中。'],
    'kb.collections': ['Collections', '知识集合'],
    'kb.new_collection': ['New collection', '新建集合'],
    'kb.collection_name_ph': ['e.g. handbook', '例如：handbook'],
    'kb.collection_desc_ph': ['What is in it (optional)', '集合内容说明（可选）'],
    'kb.collection_created': ['Collection {name} created.', '集合 {name} 已创建。'],
    'kb.collection_deleted': ['Collection {name} deleted.', '集合 {name} 已删除。'],
    'kb.collection_delete_confirm': ['Delete the collection {name} and its {count} documents?', '删除集合 {name} 及其中 {count} 个文档？'],
    'kb.docs_count': ['{count} docs', '{count} 篇'],
    'kb.documents': ['Documents', '文档'],
    'kb.all_collections': ['All collections', '全部集合'],
    'kb.all_statuses': ['Any status', '全部状态'],
    'kb.search_ph': ['Search titles', '搜索标题'],
    'kb.empty': ['No documents yet', '还没有文档'],
    'kb.empty_body': ['Upload files or paste a text above; answers will cite them.', '在上方上传文件或粘贴文本，回答时会引用它们。'],
    'kb.no_match': ['No documents match these filters.', '没有符合筛选条件的文档。'],
    'kb.chunks': ['{done} / {total} chunks', '{done} / {total} 段'],
    'kb.chunk_count': ['{count} chunks', '{count} 段'],
    'kb.chunk_one': ['1 chunk', '1 段'],
    'kb.size': ['Size', '大小'],
    'kb.doc_delete_confirm': ['Delete “{title}”? It will no longer be used in answers.', '删除「{title}」？删除后回答将不再引用它。'],
    'kb.doc_deleted': ['Document deleted.', '文档已删除。'],
    'kb.only_shared': ['Shared collections only', '仅共享集合'],
    'kb.only_private': ["Keys' private documents", '各密钥的私有文档'],
    'kb.reingest': ['Ingest again', '重新入库'],
    'kb.reingest_started': ['“{title}” is being ingested again.', '「{title}」正在重新入库。'],
    'kb.private': ['Private', '私有'],

    // Knowledge: retrieval test
    'rt.title': ['Test retrieval', '检索测试'],
    'rt.subtitle': ['Ask a question and see which passages an answer would be grounded in, and why they ranked where they did.', '输入问题，查看回答会引用哪些段落，以及它们为何如此排序。'],
    'rt.question': ['Question', '问题'],
    'rt.question_ph': ['e.g. When does the last ferry leave on Sundays?', '例如：周日最后一班渡轮几点开？'],
    'rt.question_required': ['Enter a question first.', '请先输入问题。'],
    'rt.model': ['Model', '模型'],
    'rt.default_model': ['Default model', '默认模型'],
    'rt.collection': ['Collection', '集合'],
    'rt.model_collections': ["The model's collections", '模型的知识集合'],
    'rt.top_k': ['Top k', '返回条数'],
    'rt.top_k_range': ['Top k must be a whole number from 1 to 50.', '返回条数须为 1 到 50 之间的整数。'],
    'rt.run': ['Search', '检索'],
    'rt.found': ['{count} passages', '{count} 个段落'],
    'rt.found_one': ['1 passage', '1 个段落'],
    'rt.took': ['in {ms} ms', '耗时 {ms} ms'],
    'rt.searched': ['Searched for', '检索词'],
    'rt.rerank': ['Reranked', '已重排序'],
    'rt.empty': ['Nothing in the knowledge base matched', '知识库中没有匹配的内容'],
    'rt.empty_body': ['Try other words, another collection, or check that the documents are ready.', '换个说法、换个集合试试，或确认文档已完成索引。'],
    'rt.col_source': ['Passage', '段落'],
    'rt.col_vector': ['Vector · cosine', '向量 · 余弦'],
    'rt.col_text': ['Full text · BM25', '全文 · BM25'],
    'rt.col_fused': ['Fused', '融合分'],
    'rt.col_rerank': ['Rerank', '重排分'],
    'rt.page': ['p. {page}', '第 {page} 页'],
    'rt.not_found': ['Not found by this search', '此路检索未找到'],
    'rt.more': ['Show all', '展开全文'],
    'rt.less': ['Show less', '收起'],

    // Conversations
    'conv.title': ['Conversations', '会话记录'],
    'conv.subtitle': ['Every key\u2019s conversations, newest first.', '所有密钥的会话，按时间倒序。'],
    'conv.filter_key': ['Key', '密钥'],
    'conv.all_keys': ['All keys', '全部密钥'],
    'conv.admin_session': ['Admin session', '管理员会话'],
    'conv.model': ['Model', '模型'],
    'conv.messages': ['Messages', '消息数'],
    'conv.untitled': ['(untitled)', '（无标题）'],
    'conv.empty': ['No conversations yet', '还没有会话'],
    'conv.empty_body': ['Chats sent through the API or the Playground appear here.', '通过 API 或对话测试发起的聊天会显示在这里。'],
    'conv.delete_confirm': ['Delete this conversation and its messages?', '删除此会话及全部消息？'],
    'conv.deleted': ['Conversation deleted.', '会话已删除。'],
    'conv.incomplete': ['Incomplete', '未完成'],
    'conv.role_user': ['User', '用户'],
    'conv.role_assistant': ['Assistant', '助手'],
    'conv.role_system': ['System', '系统'],
    'conv.tokens': ['{count} tokens', '{count} 词元'],
    'conv.sources': ['Sources', '来源'],

    // Logs
    'logs.title': ['Request log', '请求日志'],
    'logs.subtitle': ['Every call to the API, newest first: who made it, how long it took and what it cost.', '所有 API 调用，按时间倒序：谁发起、耗时多久、用了多少 Token。'],
    'logs.requests': ['Requests', '请求'],
    'logs.empty': ['No requests yet', '还没有请求'],
    'logs.empty_body': ['Calls to /v1/… from clients and the Playground are recorded here.', '客户端和对话测试对 /v1/… 的调用都会记录在这里。'],
    'logs.no_match': ['No requests match these filters.', '没有符合筛选条件的请求。'],
    'logs.clear_filters': ['Clear filters', '清除筛选'],
    'logs.all_keys': ['All keys', '全部密钥'],
    'logs.all_statuses': ['Any status', '全部状态'],
    'logs.status_ok': ['Succeeded (< 400)', '成功（< 400）'],
    'logs.status_error': ['Failed (≥ 400)', '失败（≥ 400）'],
    'logs.all_models': ['All models', '全部模型'],
    'logs.endpoint_ph': ['Endpoint, e.g. /v1/chat', '接口，如 /v1/chat'],
    'logs.time': ['Time', '时间'],
    'logs.key': ['Key', '密钥'],
    'logs.request': ['Request', '请求'],
    'logs.model': ['Model', '模型'],
    'logs.upstream_model': ['Upstream model', '上游模型'],
    'logs.tokens': ['Tokens', 'Token'],
    'logs.tokens_split': ['{prompt} in · {completion} out', '输入 {prompt} · 输出 {completion}'],
    'logs.latency': ['Latency', '耗时'],
    'logs.ttft': ['First byte', '首字节'],
    'logs.ttft_short': ['first byte {ms}', '首字节 {ms}'],
    'logs.ms': ['{n} ms', '{n} ms'],
    'logs.retrieval': ['Retrieval', '检索耗时'],
    'logs.retries': ['Upstream retries', '上游重试次数'],
    'logs.stream': ['stream', '流式'],
    'logs.streamed': ['Streamed', '流式响应'],
    'logs.details': ['Details', '详情'],
    'logs.detail_title': ['Request details', '请求详情'],
    'logs.section_request': ['Request', '请求'],
    'logs.section_cost': ['Timing and size', '耗时与大小'],
    'logs.prompt_tokens': ['Prompt tokens', '输入 Token'],
    'logs.completion_tokens': ['Completion tokens', '输出 Token'],
    'logs.total_tokens': ['Total tokens', 'Token 合计'],
    'logs.request_bytes': ['Request size', '请求大小'],
    'logs.response_bytes': ['Response size', '响应大小'],
    'logs.client_ip': ['Client IP', '客户端 IP'],
    'logs.user_agent': ['User agent', 'User-Agent'],
    'logs.upstream_key': ['Upstream key', '上游密钥'],
    'logs.upstream_key_hint': ['Fingerprint (first 8 hex digits of its SHA-256)', '指纹（SHA-256 前 8 位）'],
    'logs.conversation': ['Conversation', '会话'],
    'logs.error': ['Error', '错误信息'],
    'logs.id': ['Log ID', '日志 ID'],
    'logs.no_key': ['No key', '无密钥'],

    // Usage (dashboard)
    'usage.title': ['Usage, last 7 days', '近 7 天用量'],
    'usage.requests': ['Requests', '请求数'],
    'usage.tokens': ['Tokens', 'Token 数'],
    'usage.split': ['{prompt} prompt · {completion} completion', '输入 {prompt} · 输出 {completion}'],
    'usage.per_day': ['Requests per day (UTC)', '每日请求数（UTC）'],
    'usage.top_keys': ['Top keys by tokens', 'Token 用量最多的密钥'],
    'usage.key_value': ['{tokens} tokens · {requests} requests', '{tokens} Token · {requests} 次请求'],
    'usage.day_title': ['{day}: {requests} requests, {tokens} tokens', '{day}：{requests} 次请求，{tokens} Token'],
    'usage.view_logs': ['View logs', '查看日志'],
    'usage.empty': ['No usage yet', '还没有用量'],
    'usage.empty_body': ['Requests through the API are counted here per key and day.', '通过 API 发出的请求会按密钥和日期统计在这里。'],
    'usage.dropped': ['{count} log rows were dropped under load; the figures may be a little low.', '高负载时丢弃了 {count} 条日志，统计可能略偏低。'],

    // Playground
    'pg.title': ['Playground', '对话测试'],
    'pg.subtitle': ['Chat with a model through an API key, exactly as a client would.', '以客户端的方式，用 API 密钥与模型对话。'],
    'pg.model': ['Model', '模型'],
    'pg.key': ['API key', 'API 密钥'],
    'pg.key_paste': ['Paste a key…', '粘贴密钥…'],
    'pg.key_paste_ph': ['sk-…', 'sk-…'],
    'pg.key_hint': ['Keys created in this tab are offered here; others can be pasted.', '本标签页中创建的密钥会列在这里，其它密钥可以粘贴。'],
    'pg.key_revoked': ['revoked', '已吊销'],
    'pg.new_chat': ['New chat', '新对话'],
    'pg.send': ['Send', '发送'],
    'pg.stop': ['Stop', '停止'],
    'pg.input_ph': ['Ask a question…', '输入问题…'],
    'pg.input_hint': ['Enter sends · Shift+Enter starts a new line', '回车发送 · Shift+回车换行'],
    'pg.empty': ['Start a conversation', '开始对话'],
    'pg.empty_body': ['Answers stream in as they are written, with the sources they used.', '回答会实时流式显示，并附上所引用的来源。'],
    'pg.need_key': ['Choose or paste an API key first.', '请先选择或粘贴 API 密钥。'],
    'pg.need_model': ['Choose a model first.', '请先选择模型。'],
    'pg.sources': ['Sources', '来源'],
    'pg.conversation': ['Conversation', '会话'],
    'pg.conversation_new': ['New — starts with the first message', '新会话（发送第一条消息后创建）'],
    'pg.you': ['You', '你'],
    'pg.assistant': ['Assistant', '助手'],
    'pg.error': ['Error', '错误'],
    'pg.stopped': ['Stopped.', '已停止。'],
    'pg.score': ['score {score}', '相似度 {score}'],

    // Settings
    'set.title': ['Settings', '设置'],
    'set.subtitle': ['Runtime settings take effect at once, for every model that does not set its own.', '运行时设置立即生效，适用于未单独设置的所有模型。'],
    'set.runtime': ['Runtime settings', '运行时设置'],
    'set.system_prompt': ['Global system prompt', '全局系统提示词'],
    'set.system_prompt_ph': ['Empty: none', '留空则不使用'],
    'set.max_messages': ['Messages sent upstream', '上传消息条数上限'],
    'set.max_message_chars': ['Characters per message', '单条消息字符上限'],
    'set.max_total_chars': ['Characters in all', '总字符上限'],
    'set.top_k': ['Sources per question', '每次检索来源数'],
    'set.draw_triggers': ['Drawing triggers', '绘画触发词'],
    'set.draw_triggers_hint': ['Comma separated. Messages starting with one are drawn (by models that draw).', '以逗号分隔。以触发词开头的消息会生成图片（需模型开启绘画）。'],
    'set.citation_footer': ['Append the list of sources to every grounded answer', '在所有基于知识库的回答末尾附上来源列表'],
    'set.upload_max_bytes': ['Largest upload (bytes)', '上传文件大小上限（字节）'],
    'set.saved_badge': ['Changed', '已修改'],
    'set.nothing': ['Nothing changed.', '没有修改。'],
    'set.saved': ['Settings saved.', '设置已保存。'],
    'set.reset_done': ['Back to the default.', '已恢复默认。'],
    'set.password': ['Change password', '修改密码'],
    'set.current_password': ['Current password', '当前密码'],
    'set.new_password': ['New password', '新密码'],
    'set.new_password2': ['Repeat the new password', '再次输入新密码'],
    'set.password_submit': ['Change password', '修改密码'],
    'set.password_done': ['Password changed. Other sessions have been signed out.', '密码已修改，其它登录会话已退出。'],
    'set.password_hint': ['Every other signed-in browser is logged out.', '其它已登录的浏览器会被退出。'],
  };

  const LANGS = ['en', 'zh'];
  const LANG_KEY = 'ragway.lang';

  function initialLang() {
    try {
      const saved = localStorage.getItem(LANG_KEY);
      if (LANGS.includes(saved)) return saved;
    } catch (_) { /* storage blocked */ }
    return (navigator.language || '').toLowerCase().startsWith('zh') ? 'zh' : 'en';
  }

  const S = {
    lang: initialLang(),
    setupRequired: null,
    authed: null,
    token: 0,
    cleanups: [],
    navOpen: false,
    pg: { messages: [], convId: null, model: null, keyChoice: null, pasted: '', busy: false, abort: null },
  };

  function t(key, vars) {
    const entry = I18N[key];
    let text = entry ? entry[S.lang === 'zh' ? 1 : 0] : key;
    if (vars) {
      text = text.replace(/\{(\w+)\}/g, (m, name) => (name in vars ? String(vars[name]) : m));
    }
    return text;
  }

  function setLang(lang) {
    if (!LANGS.includes(lang) || lang === S.lang) return;
    S.lang = lang;
    try { localStorage.setItem(LANG_KEY, lang); } catch (_) { /* ignore */ }
    render();
  }

  // ------------------------------------------------------------------
  // DOM helpers
  // ------------------------------------------------------------------
  const PROPS = new Set(['value', 'checked', 'disabled', 'selected', 'multiple', 'readOnly', 'required', 'hidden', 'indeterminate']);

  function h(tag, props, ...kids) {
    const el = document.createElement(tag);
    if (props) {
      for (const [k, v] of Object.entries(props)) {
        if (v == null || v === false) continue;
        if (k === 'class') el.className = v;
        else if (k === 'testid') el.setAttribute('data-testid', v);
        else if (k === 'text') el.textContent = v;
        else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2).toLowerCase(), v);
        else if (PROPS.has(k)) el[k] = v;
        else el.setAttribute(k, v === true ? '' : String(v));
      }
    }
    add(el, kids);
    return el;
  }

  function add(el, kids) {
    for (const kid of kids) {
      if (kid == null || kid === false) continue;
      if (Array.isArray(kid)) add(el, kid);
      else if (kid instanceof Node) el.appendChild(kid);
      else el.appendChild(document.createTextNode(String(kid)));
    }
    return el;
  }

  function clear(el) {
    while (el.firstChild) el.removeChild(el.firstChild);
    return el;
  }

  const SVG_NS = 'http://www.w3.org/2000/svg';
  const ICONS = {
    dashboard: 'M3 3h7v9H3z M14 3h7v5h-7z M14 12h7v9h-7z M3 16h7v5H3z',
    playground: 'M13 2 3 14h9l-1 8 10-12h-9l1-8z',
    providers: 'M4 4h16v6H4z M4 14h16v6H4z M8 7h.01 M8 17h.01',
    models: 'M21 16V8l-9-5-9 5v8l9 5 9-5z M3.3 7.3 12 12l8.7-4.7 M12 22V12',
    settings: 'M4 21v-7 M4 10V3 M12 21v-9 M12 8V3 M20 21v-5 M20 12V3 M1 14h6 M9 8h6 M17 16h6',
    knowledge: 'M4 19.5A2.5 2.5 0 0 1 6.5 17H20 M6.5 2H20v20H6.5A2.5 2.5 0 0 1 4 19.5v-15A2.5 2.5 0 0 1 6.5 2z',
    keys: 'M21 2l-2 2m-7.6 7.6a5.5 5.5 0 1 1-7.8 7.8 5.5 5.5 0 0 1 7.8-7.8zm0 0L15.5 7.5m0 0 3 3L22 7l-3-3m-3.5 3.5L19 4',
    conversations: 'M21 15a2 2 0 0 1-2 2H7l-4 4V5a2 2 0 0 1 2-2h14a2 2 0 0 1 2 2z',
    logs: 'M8 6h13 M8 12h13 M8 18h13 M3 6h.01 M3 12h.01 M3 18h.01',
    logout: 'M9 21H5a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2h4 M16 17l5-5-5-5 M21 12H9',
    menu: 'M3 6h18 M3 12h18 M3 18h18',
    copy: 'M9 9h13v13H9z M5 15H4a2 2 0 0 1-2-2V4a2 2 0 0 1 2-2h9a2 2 0 0 1 2 2v1',
    upload: 'M21 15v4a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2v-4 M17 8l-5-5-5 5 M12 3v12',
    trash: 'M3 6h18 M19 6l-1 14a2 2 0 0 1-2 2H8a2 2 0 0 1-2-2L5 6 M10 11v6 M14 11v6 M9 6V4a1 1 0 0 1 1-1h4a1 1 0 0 1 1 1v2',
    plus: 'M12 5v14 M5 12h14',
    send: 'M22 2 11 13 M22 2l-7 20-4-9-9-4 20-7z',
    refresh: 'M23 4v6h-6 M1 20v-6h6 M3.5 9a9 9 0 0 1 14.9-3.4L23 10 M1 14l4.6 4.4A9 9 0 0 0 20.5 15',
    check: 'M20 6 9 17l-5-5',
    alert: 'M12 9v4 M12 17h.01 M10.3 3.9 1.8 18a2 2 0 0 0 1.7 3h17a2 2 0 0 0 1.7-3L13.7 3.9a2 2 0 0 0-3.4 0z',
    x: 'M18 6 6 18 M6 6l12 12',
    file: 'M14 2H6a2 2 0 0 0-2 2v16a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2V8z M14 2v6h6 M8 13h8 M8 17h5',
    edit: 'M12 20h9 M16.5 3.5a2.1 2.1 0 0 1 3 3L7 19l-4 1 1-4z',
    stop: 'M6 6h12v12H6z',
    database: 'M12 3c-5 0-8 1.3-8 3v12c0 1.7 3 3 8 3s8-1.3 8-3V6c0-1.7-3-3-8-3z M4 6c0 1.7 3 3 8 3s8-1.3 8-3 M4 12c0 1.7 3 3 8 3s8-1.3 8-3',
    folder: 'M22 19a2 2 0 0 1-2 2H4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2h5l2 3h9a2 2 0 0 1 2 2z',
    globe: 'M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20z M2 12h20 M12 2a15.3 15.3 0 0 1 4 10 15.3 15.3 0 0 1-4 10 15.3 15.3 0 0 1-4-10 15.3 15.3 0 0 1 4-10z',
    search: 'M11 3a8 8 0 1 0 0 16 8 8 0 0 0 0-16z M21 21l-4.3-4.3',
    lock: 'M5 11h14v10H5z M8 11V7a4 4 0 0 1 8 0v4',
    chevron: 'M9 18l6-6-6-6',
    arrowLeft: 'M19 12H5 M12 19l-7-7 7-7',
    activity: 'M22 12h-4l-3 9L9 3l-3 9H2',
    chart: 'M3 3v18h18 M8 17v-4 M13 17V8 M18 17v-7',
    ban: 'M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20z M4.9 4.9l14.2 14.2',
    spark: 'M12 3l1.9 5.8L20 10l-6.1 1.2L12 17l-1.9-5.8L4 10l6.1-1.2z M19 17l.8 2.2L22 20l-2.2.8L19 23l-.8-2.2L16 20l2.2-.8z',
  };

  function icon(name, cls) {
    const svg = document.createElementNS(SVG_NS, 'svg');
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('aria-hidden', 'true');
    svg.setAttribute('class', 'icon' + (cls ? ' ' + cls : ''));
    const path = document.createElementNS(SVG_NS, 'path');
    path.setAttribute('d', ICONS[name] || ICONS.file);
    svg.appendChild(path);
    return svg;
  }

  function brandMark() {
    const svg = document.createElementNS(SVG_NS, 'svg');
    svg.setAttribute('viewBox', '0 0 32 32');
    svg.setAttribute('aria-hidden', 'true');
    svg.setAttribute('class', 'brand-mark');
    const parts = [
      ['rect', { x: '1', y: '1', width: '30', height: '30', rx: '9', class: 'bm-bg' }],
      ['path', { d: 'M10 22V10h6.5a4 4 0 0 1 0 8H10 M16 18l5 4', class: 'bm-fg' }],
      ['circle', { cx: '22.5', cy: '10', r: '2', class: 'bm-dot' }],
    ];
    for (const [tag, attrs] of parts) {
      const el = document.createElementNS(SVG_NS, tag);
      for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
      svg.appendChild(el);
    }
    return svg;
  }

  // ------------------------------------------------------------------
  // Formatting
  // ------------------------------------------------------------------
  function locale() { return S.lang === 'zh' ? 'zh-CN' : 'en-GB'; }

  function fmtTime(ms) {
    if (ms == null || ms === 0) return '—';
    const d = new Date(typeof ms === 'number' ? ms : Date.parse(ms));
    if (isNaN(d.getTime())) return '—';
    return d.toLocaleString(locale(), { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
  }

  function fmtAgo(ms) {
    if (ms == null) return t('common.never');
    const diff = (Date.now() - ms) / 1000;
    const rtf = new Intl.RelativeTimeFormat(S.lang === 'zh' ? 'zh-CN' : 'en', { numeric: 'auto' });
    const abs = Math.abs(diff);
    if (abs < 45) return rtf.format(-Math.round(diff), 'second');
    if (abs < 2700) return rtf.format(-Math.round(diff / 60), 'minute');
    if (abs < 79200) return rtf.format(-Math.round(diff / 3600), 'hour');
    if (abs < 86400 * 6) return rtf.format(-Math.round(diff / 86400), 'day');
    return fmtTime(ms);
  }

  function timeEl(ms, relative) {
    return h('time', { title: ms ? new Date(ms).toISOString() : null, class: 'nowrap' }, relative ? fmtAgo(ms) : fmtTime(ms));
  }

  function fmtBytes(n) {
    if (n == null) return '—';
    const units = ['B', 'KB', 'MB', 'GB'];
    let i = 0;
    let v = n;
    while (v >= 1024 && i < units.length - 1) { v /= 1024; i += 1; }
    return (i === 0 ? String(v) : v.toFixed(v < 10 ? 1 : 0)) + ' ' + units[i];
  }

  function fmtNumber(n) {
    return typeof n === 'number' ? n.toLocaleString(locale()) : String(n);
  }

  // 1,234 below ten thousand; 12K / 1.2万 above.
  function fmtCompact(n) {
    if (typeof n !== 'number') return String(n);
    if (Math.abs(n) < 10000) return fmtNumber(n);
    return new Intl.NumberFormat(locale(), { notation: 'compact', maximumFractionDigits: 1 }).format(n);
  }

  function fmtMs(ms) {
    return ms == null ? null : t('logs.ms', { n: fmtNumber(ms) });
  }

  function fmtFullTime(ms) {
    if (ms == null) return '—';
    return new Date(ms).toLocaleString(locale(), { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' });
  }

  // ------------------------------------------------------------------
  // API
  // ------------------------------------------------------------------
  class ApiError extends Error {
    constructor(status, message, code) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  async function api(method, path, body, opts) {
    const options = opts || {};
    const init = { method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(path, init);
    } catch (_) {
      throw new ApiError(0, t('err.network'), 'network');
    }
    const text = await res.text();
    let data = null;
    if (text) {
      try { data = JSON.parse(text); } catch (_) { data = null; }
    }
    if (!res.ok) {
      const message = (data && data.error && data.error.message) || ('HTTP ' + res.status);
      const code = data && data.error && data.error.code;
      if (res.status === 401 && !options.quiet401) sessionEnded();
      throw new ApiError(res.status, message, code);
    }
    return data;
  }

  function errorText(err) {
    if (err instanceof ApiError) return err.message;
    return (err && err.message) || t('err.generic');
  }

  function sessionEnded() {
    if (S.authed === false) return;
    S.authed = false;
    toast(t('err.session'), 'error');
    go('login');
  }

  // Keys created in this tab (and the first key from setup), for the Playground.
  const KEYSTORE = 'ragway.playground.keys';

  function storedKeys() {
    try {
      const list = JSON.parse(sessionStorage.getItem(KEYSTORE) || '[]');
      return Array.isArray(list) ? list : [];
    } catch (_) {
      return [];
    }
  }

  function rememberKey(key) {
    if (!key || !key.key) return;
    const list = storedKeys().filter((k) => k.id !== key.id);
    list.unshift({ id: key.id, name: key.name, prefix: key.prefix, role: key.role, key: key.key });
    try { sessionStorage.setItem(KEYSTORE, JSON.stringify(list.slice(0, 50))); } catch (_) { /* ignore */ }
  }

  // ------------------------------------------------------------------
  // Components
  // ------------------------------------------------------------------
  function btn(label, options) {
    const o = options || {};
    const cls = ['btn', 'btn-' + (o.kind || 'secondary')];
    if (o.small) cls.push('btn-sm');
    if (o.iconOnly) cls.push('btn-icon');
    if (o.block) cls.push('btn-block');
    const b = h('button', {
      type: o.type || 'button',
      class: cls.join(' '),
      testid: o.testid,
      title: o.title || (o.iconOnly ? label : null),
      'aria-label': o.iconOnly ? label : null,
      disabled: o.disabled,
      onclick: o.onclick,
    }, o.icon ? icon(o.icon) : null, o.iconOnly ? null : h('span', { class: 'btn-label' }, label));
    return b;
  }

  // Run `fn` with `button` showing it is busy; errors become toasts unless handled.
  async function busy(button, fn) {
    if (button) {
      button.disabled = true;
      button.classList.add('is-busy');
    }
    try {
      return await fn();
    } finally {
      if (button) {
        button.disabled = false;
        button.classList.remove('is-busy');
      }
    }
  }

  function badge(text, kind, testid) {
    return h('span', { class: 'badge badge-' + (kind || 'neutral'), testid }, text);
  }

  function statusBadge(status, testid) {
    const kinds = {
      ok: 'ok', ready: 'ok', configured: 'ok', active: 'ok',
      pending: 'neutral', empty: 'neutral', not_configured: 'neutral',
      processing: 'info', reindexing: 'info',
      failed: 'danger', down: 'danger', revoked: 'danger',
      mismatch: 'warn', degraded: 'warn', expired: 'warn', cooling: 'warn',
      blocked: 'danger',
    };
    const key = String(status || 'unknown').replace(/ /g, '_');
    const label = I18N['status.' + key] ? t('status.' + key) : String(status);
    const b = badge(label, kinds[key] || 'neutral', testid);
    b.setAttribute('data-status', key);
    b.prepend(h('span', { class: 'dot' }));
    return b;
  }

  function card(options, ...body) {
    const o = options || {};
    return h('section', { class: 'card' + (o.class ? ' ' + o.class : ''), testid: o.testid },
      (o.title || o.actions) ? h('div', { class: 'card-head' },
        h('div', { class: 'card-titles' },
          o.title ? h('h2', { class: 'card-title' }, o.icon ? icon(o.icon) : null, o.title) : null,
          o.subtitle ? h('p', { class: 'card-sub' }, o.subtitle) : null),
        o.actions ? h('div', { class: 'card-actions' }, o.actions) : null) : null,
      h('div', { class: 'card-body' + (o.flush ? ' flush' : '') }, body));
  }

  function pageHeader(title, subtitle, actions) {
    return h('header', { class: 'page-head' },
      h('div', null, h('h1', { class: 'page-title' }, title), subtitle ? h('p', { class: 'page-sub' }, subtitle) : null),
      actions ? h('div', { class: 'page-actions' }, actions) : null);
  }

  let fieldSeq = 0;
  function field(label, control, options) {
    const o = options || {};
    const id = control.id || ('f' + (++fieldSeq));
    if (!control.id && control.tagName !== 'DIV') control.id = id;
    return h('div', { class: 'field' + (o.class ? ' ' + o.class : '') },
      h('div', { class: 'field-label-row' },
        h('label', { class: 'field-label', for: control.tagName === 'DIV' ? null : id }, label,
          o.optional ? h('span', { class: 'optional' }, t('common.optional')) : null),
        o.extra || null),
      control,
      o.hint ? h('p', { class: 'field-hint' }, o.hint) : null);
  }

  function input(props) {
    return h('input', Object.assign({ class: 'input', type: 'text', autocomplete: 'off', spellcheck: 'false' }, props));
  }

  function textarea(props) {
    return h('textarea', Object.assign({ class: 'input textarea' }, props));
  }

  function select(options, props) {
    const el = h('select', Object.assign({ class: 'input select' }, props));
    for (const o of options) el.appendChild(h('option', { value: o.value, selected: o.selected, disabled: o.disabled }, o.label));
    return el;
  }

  function toggle(label, checked, props) {
    const box = h('input', Object.assign({ type: 'checkbox', class: 'toggle-input', checked: !!checked }, props));
    return { el: h('label', { class: 'toggle' }, box, h('span', { class: 'toggle-track' }, h('span', { class: 'toggle-thumb' })), h('span', { class: 'toggle-label' }, label)), box };
  }

  function inlineError(testid) {
    const el = h('div', { class: 'inline-error', role: 'alert', testid, hidden: true });
    return {
      el,
      show(message) { clear(el); el.appendChild(icon('alert')); el.appendChild(h('span', null, message)); el.hidden = false; },
      hide() { el.hidden = true; clear(el); },
    };
  }

  function emptyState(iconName, title, body, action, testid) {
    return h('div', { class: 'empty', testid: testid || 'empty-state' },
      h('div', { class: 'empty-icon' }, icon(iconName)),
      h('p', { class: 'empty-title' }, title),
      body ? h('p', { class: 'empty-body' }, body) : null,
      action || null);
  }

  function loadingBlock() {
    return h('div', { class: 'loading', testid: 'loading' }, h('span', { class: 'spinner' }), h('span', null, t('common.loading')));
  }

  function errorBlock(err, retry) {
    return h('div', { class: 'error-block', role: 'alert', testid: 'page-error' },
      h('div', { class: 'empty-icon danger' }, icon('alert')),
      h('p', { class: 'empty-title' }, t('err.load')),
      h('p', { class: 'empty-body' }, errorText(err)),
      retry ? btn(t('common.retry'), { icon: 'refresh', onclick: retry }) : null);
  }

  // A table that becomes stacked cards on narrow screens (labels from data-label).
  function table(columns, rows, options) {
    const o = options || {};
    const thead = h('thead', null, h('tr', null, columns.map((c) => h('th', { class: c.class || null }, c.label))));
    const tbody = h('tbody');
    for (const row of rows) {
      const tr = h('tr', { testid: o.rowTestid ? o.rowTestid(row) : null });
      if (o.rowAttrs) for (const [k, v] of Object.entries(o.rowAttrs(row))) tr.setAttribute(k, v);
      for (const c of columns) {
        const content = c.render(row);
        tr.appendChild(h('td', { class: c.class || null, 'data-label': c.label || null }, content == null || content === '' ? h('span', { class: 'muted' }, '—') : content));
      }
      tbody.appendChild(tr);
    }
    return h('div', { class: 'table-wrap' }, h('table', { class: 'table', testid: o.testid }, thead, tbody));
  }

  function kv(rows) {
    return h('dl', { class: 'kv' }, rows.filter(Boolean).map(([k, v, testid]) => h('div', { class: 'kv-row', testid },
      h('dt', null, k), h('dd', null, v == null || v === '' ? h('span', { class: 'muted' }, '—') : v))));
  }

  function toast(message, kind) {
    const host = document.getElementById('toasts');
    if (!host) return;
    const el = h('div', { class: 'toast toast-' + (kind || 'ok'), role: kind === 'error' ? 'alert' : 'status', testid: 'toast' },
      icon(kind === 'error' ? 'alert' : 'check'), h('span', null, message));
    host.appendChild(el);
    const remove = () => { el.classList.add('leaving'); setTimeout(() => el.remove(), 250); };
    el.addEventListener('click', remove);
    setTimeout(remove, kind === 'error' ? 6500 : 3500);
  }

  let openModals = 0;
  function modal(options) {
    const o = options || {};
    const previous = document.activeElement;
    const close = () => {
      if (!back.isConnected) return;
      back.remove();
      openModals -= 1;
      if (openModals <= 0) document.body.classList.remove('modal-open');
      document.removeEventListener('keydown', onKey);
      if (o.onclose) o.onclose();
      if (previous && previous.focus) previous.focus();
    };
    const onKey = (e) => { if (e.key === 'Escape' && o.dismissable !== false) close(); };
    const body = h('div', { class: 'modal-body' }, o.body);
    const foot = o.actions ? h('div', { class: 'modal-foot' }, o.actions) : null;
    const dialog = h('div', { class: 'modal' + (o.wide ? ' modal-wide' : ''), role: 'dialog', 'aria-modal': 'true', testid: o.testid || 'modal' },
      h('div', { class: 'modal-head' },
        h('h2', { class: 'modal-title' }, o.title),
        o.dismissable === false ? null : btn(t('common.close'), { kind: 'ghost', icon: 'x', iconOnly: true, testid: 'modal-close', onclick: close })),
      body, foot);
    // Only a dialog that holds nothing to lose (a confirmation) closes on a
    // click beside it, and only when the press and the release both land
    // there: a form or a key shown once never vanishes by a stray click.
    let pressedBeside = false;
    const back = h('div', {
      class: 'modal-back',
      onmousedown: (e) => { pressedBeside = e.target === back; },
      onclick: (e) => { if (o.lightDismiss && pressedBeside && e.target === back) close(); pressedBeside = false; },
    }, dialog);
    document.body.appendChild(back);
    document.body.classList.add('modal-open');
    openModals += 1;
    document.addEventListener('keydown', onKey);
    const focusable = dialog.querySelector('input, textarea, select, .btn-primary');
    if (focusable) setTimeout(() => focusable.focus(), 0);
    return { close, el: dialog, body };
  }

  function confirmDialog(options) {
    const o = options || {};
    return new Promise((resolve) => {
      let done = false;
      const finish = (value) => { if (!done) { done = true; resolve(value); } };
      const m = modal({
        title: o.title || t('common.confirm'),
        testid: 'confirm-modal',
        lightDismiss: true,
        body: h('p', { class: 'confirm-text' }, o.message),
        onclose: () => finish(false),
        actions: [
          btn(t('common.cancel'), { kind: 'ghost', testid: 'confirm-cancel', onclick: () => m.close() }),
          btn(o.ok || t('common.confirm'), { kind: o.danger ? 'danger' : 'primary', testid: 'confirm-ok', onclick: () => { finish(true); m.close(); } }),
        ],
      });
    });
  }

  async function copyText(text) {
    try {
      if (navigator.clipboard && window.isSecureContext) {
        await navigator.clipboard.writeText(text);
        return true;
      }
    } catch (_) { /* fall back */ }
    const area = h('textarea', { class: 'offscreen', readOnly: true }, text);
    document.body.appendChild(area);
    area.select();
    let ok = false;
    try { ok = document.execCommand('copy'); } catch (_) { ok = false; }
    area.remove();
    return ok;
  }

  function secretBox(secret, testid) {
    const code = h('code', { class: 'secret-value', testid: testid || 'secret' }, secret);
    const copy = btn(t('common.copy'), {
      kind: 'primary', icon: 'copy', small: true, testid: 'secret-copy',
      onclick: async () => {
        const ok = await copyText(secret);
        if (ok) {
          copy.querySelector('.btn-label').textContent = t('common.copied');
          toast(t('common.copied'));
        } else {
          const range = document.createRange();
          range.selectNodeContents(code);
          const sel = window.getSelection();
          sel.removeAllRanges();
          sel.addRange(range);
          toast(t('common.copy_failed'), 'error');
        }
      },
    });
    return h('div', { class: 'secret' },
      h('div', { class: 'secret-row' }, code, copy),
      h('p', { class: 'secret-warn' }, icon('alert'), h('span', null, t('secret.once'))),
      h('p', { class: 'field-hint' }, t('secret.kept')));
  }

  function langSwitch() {
    return h('div', { class: 'lang-switch', role: 'group', 'aria-label': t('lang.label'), testid: 'lang-switch' },
      icon('globe'),
      h('button', { type: 'button', class: 'lang-btn' + (S.lang === 'zh' ? ' active' : ''), testid: 'lang-zh', onclick: () => setLang('zh') }, '中文'),
      h('button', { type: 'button', class: 'lang-btn' + (S.lang === 'en' ? ' active' : ''), testid: 'lang-en', onclick: () => setLang('en') }, 'EN'));
  }

  // ------------------------------------------------------------------
  // Markdown-ish rendering into DOM nodes (never innerHTML).
  // ------------------------------------------------------------------
  function safeUrl(url, forImage) {
    const u = String(url || '').trim();
    if (/^https?:\/\//i.test(u) || u.startsWith('/')) return u;
    if (forImage && /^(data:image\/|blob:)/i.test(u)) return u;
    return null;
  }

  const INLINE = /(`+)([^`]|[^`][\s\S]*?[^`])\1(?!`)|!\[([^\]]*)\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)|\[([^\]]+)\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)|\*\*([^*]+?)\*\*|__([^_]+?)__|(^|[^\w*])\*(?!\s)([^*\n]+?)\*(?!\w)|(https?:\/\/[^\s<>()]+[^\s<>().,;:!?'"])/g;

  function renderInline(text) {
    const frag = document.createDocumentFragment();
    let last = 0;
    INLINE.lastIndex = 0;
    let m;
    while ((m = INLINE.exec(text)) !== null) {
      let start = m.index;
      if (m[9] !== undefined) start += m[9].length;
      if (start > last) frag.appendChild(document.createTextNode(text.slice(last, start)));
      if (m[1] !== undefined) {
        frag.appendChild(h('code', { class: 'md-code' }, m[2]));
      } else if (m[4] !== undefined) {
        const src = safeUrl(m[4], true);
        if (src) {
          const img = h('img', { class: 'md-img', src, alt: m[3] || '', loading: 'lazy', testid: 'md-image' });
          frag.appendChild(h('a', { href: src, target: '_blank', rel: 'noopener noreferrer', class: 'md-img-link' }, img));
        } else {
          frag.appendChild(document.createTextNode(m[0]));
        }
      } else if (m[6] !== undefined) {
        const href = safeUrl(m[6], false);
        if (href) frag.appendChild(h('a', { href, target: '_blank', rel: 'noopener noreferrer' }, m[5]));
        else frag.appendChild(document.createTextNode(m[5]));
      } else if (m[7] !== undefined || m[8] !== undefined) {
        frag.appendChild(h('strong', null, m[7] !== undefined ? m[7] : m[8]));
      } else if (m[10] !== undefined) {
        frag.appendChild(h('em', null, m[10]));
      } else if (m[11] !== undefined) {
        frag.appendChild(h('a', { href: m[11], target: '_blank', rel: 'noopener noreferrer' }, m[11]));
      }
      last = INLINE.lastIndex;
    }
    if (last < text.length) frag.appendChild(document.createTextNode(text.slice(last)));
    return frag;
  }

  function inlineLines(lines) {
    const frag = document.createDocumentFragment();
    lines.forEach((line, i) => {
      if (i > 0) frag.appendChild(h('br'));
      frag.appendChild(renderInline(line));
    });
    return frag;
  }

  function renderMarkdown(text) {
    const root = h('div', { class: 'md' });
    const lines = String(text || '').replace(/\r\n?/g, '\n').split('\n');
    let i = 0;
    let para = [];
    const flush = () => {
      if (para.length) root.appendChild(h('p', null, inlineLines(para)));
      para = [];
    };
    while (i < lines.length) {
      const line = lines[i];
      const fence = line.match(/^\s*(```+|~~~+)\s*([\w+#.-]*)/);
      if (fence) {
        flush();
        const marker = fence[1];
        const body = [];
        i += 1;
        while (i < lines.length && !lines[i].trim().startsWith(marker)) { body.push(lines[i]); i += 1; }
        i += 1;
        const code = h('code', null, body.join('\n'));
        const pre = h('pre', { class: 'md-pre' }, code);
        if (fence[2]) pre.setAttribute('data-lang', fence[2]);
        root.appendChild(pre);
        continue;
      }
      const heading = line.match(/^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$/);
      if (heading) {
        flush();
        const level = Math.min(6, heading[1].length + 2);
        root.appendChild(h('h' + level, { class: 'md-h' }, renderInline(heading[2])));
        i += 1;
        continue;
      }
      if (/^\s*([-*_])\s*\1\s*\1[\s\1]*$/.test(line) && !/^\s*[-*]\s+\S/.test(line)) {
        flush();
        root.appendChild(h('hr'));
        i += 1;
        continue;
      }
      const bullet = /^\s*[-*+]\s+(.*)$/;
      const ordered = /^\s*(\d+)[.)]\s+(.*)$/;
      if (bullet.test(line) || ordered.test(line)) {
        flush();
        const isOrdered = !bullet.test(line);
        const re = isOrdered ? ordered : bullet;
        const list = h(isOrdered ? 'ol' : 'ul');
        if (isOrdered) {
          const first = parseInt(line.match(ordered)[1], 10);
          if (first !== 1) list.setAttribute('start', String(first));
        }
        while (i < lines.length && re.test(lines[i])) {
          const m = lines[i].match(re);
          const item = [isOrdered ? m[2] : m[1]];
          i += 1;
          while (i < lines.length && /^\s{2,}\S/.test(lines[i]) && !re.test(lines[i])) { item.push(lines[i].trim()); i += 1; }
          list.appendChild(h('li', null, inlineLines(item)));
        }
        root.appendChild(list);
        continue;
      }
      if (/^\s*>/.test(line)) {
        flush();
        const quote = [];
        while (i < lines.length && /^\s*>/.test(lines[i])) { quote.push(lines[i].replace(/^\s*>\s?/, '')); i += 1; }
        root.appendChild(h('blockquote', null, inlineLines(quote)));
        continue;
      }
      if (!line.trim()) { flush(); i += 1; continue; }
      para.push(line);
      i += 1;
    }
    flush();
    return root;
  }

  // ------------------------------------------------------------------
  // Routing and the shell
  // ------------------------------------------------------------------
  const NAV = [
    { group: 'nav.main', items: [['dashboard', 'dashboard'], ['playground', 'playground']] },
    { group: 'nav.config', items: [['providers', 'providers'], ['models', 'models'], ['settings', 'settings']] },
    { group: 'nav.data', items: [['knowledge', 'knowledge'], ['keys', 'keys'], ['conversations', 'conversations'], ['logs', 'logs']] },
  ];

  const PAGES = {
    dashboard: pageDashboard,
    playground: pagePlayground,
    providers: pageProviders,
    models: pageModels,
    settings: pageSettings,
    knowledge: pageKnowledge,
    keys: pageKeys,
    conversations: pageConversations,
    logs: pageLogs,
  };

  function parseHash() {
    const parts = location.hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
    return { name: parts[0] || '', params: parts.slice(1) };
  }

  function go(name, ...params) {
    const hash = '#/' + [name].concat(params.map(encodeURIComponent)).join('/');
    if (location.hash === hash) render();
    else location.hash = hash;
  }

  function onCleanup(fn) { S.cleanups.push(fn); }

  function runCleanups() {
    const list = S.cleanups;
    S.cleanups = [];
    for (const fn of list) {
      try { fn(); } catch (_) { /* ignore */ }
    }
  }

  // A context for one rendering of one page: `alive()` turns false once
  // the user went elsewhere, so late answers are dropped.
  function newContext() {
    S.token += 1;
    const token = S.token;
    return { alive: () => token === S.token };
  }

  async function render() {
    runCleanups();
    const ctx = newContext();
    const app = document.getElementById('app');
    document.documentElement.lang = S.lang === 'zh' ? 'zh-CN' : 'en';
    if (S.setupRequired === null) {
      try {
        const setup = await api('GET', '/api/admin/setup');
        S.setupRequired = !!setup.setup_required;
      } catch (err) {
        if (!ctx.alive()) return;
        clear(app).appendChild(h('div', { class: 'auth-wrap' }, errorBlock(err, () => render())));
        return;
      }
      if (!ctx.alive()) return;
    }
    const route = parseHash();
    if (S.setupRequired) {
      if (route.name !== 'setup') { history.replaceState(null, '', '#/setup'); }
      renderSetup(app, ctx);
      return;
    }
    if (route.name === 'setup' && S.setupDone) {
      renderSetup(app, ctx);
      return;
    }
    if (S.authed === null) {
      try {
        await api('GET', '/api/admin/session', undefined, { quiet401: true });
        S.authed = true;
      } catch (err) {
        if (!ctx.alive()) return;
        if (err.status === 401) S.authed = false;
        else {
          clear(app).appendChild(h('div', { class: 'auth-wrap' }, errorBlock(err, () => render())));
          return;
        }
      }
      if (!ctx.alive()) return;
    }
    if (!S.authed) {
      if (route.name !== 'login') {
        if (route.name && route.name !== 'setup') S.afterLogin = location.hash;
        history.replaceState(null, '', '#/login');
      }
      renderLogin(app, ctx);
      return;
    }
    if (!PAGES[route.name]) {
      history.replaceState(null, '', '#/dashboard');
      route.name = 'dashboard';
      route.params = [];
    }
    const content = renderShell(app, route.name);
    const page = PAGES[route.name];
    document.title = t('nav.' + route.name) + ' · ragway';
    try {
      await page(content, ctx, route.params);
    } catch (err) {
      if (!ctx.alive()) return;
      if (err instanceof ApiError && err.status === 401) return;
      clear(content).appendChild(errorBlock(err, () => render()));
    }
  }

  function renderShell(app, active) {
    S.navOpen = false;
    const navEl = h('nav', { class: 'nav', 'aria-label': t('nav.menu') },
      NAV.map((group) => h('div', { class: 'nav-group' },
        h('div', { class: 'nav-group-label' }, t(group.group)),
        group.items.map(([name, ic]) => h('a', {
          href: '#/' + name,
          class: 'nav-item' + (name === active ? ' active' : ''),
          testid: 'nav-' + name,
          'aria-current': name === active ? 'page' : null,
        }, icon(ic), h('span', null, t('nav.' + name)))))));
    const logout = h('button', {
      type: 'button', class: 'nav-item nav-logout', testid: 'logout',
      onclick: async () => {
        try { await api('POST', '/api/admin/logout', undefined, { quiet401: true }); } catch (_) { /* gone anyway */ }
        S.authed = false;
        S.pg = { messages: [], convId: null, model: null, keyChoice: null, pasted: '', busy: false, abort: null };
        toast(t('login.out'));
        go('login');
      },
    }, icon('logout'), h('span', null, t('nav.logout')));
    const sidebar = h('aside', { class: 'sidebar', testid: 'sidebar' },
      h('a', { class: 'brand', href: '#/dashboard' }, brandMark(), h('span', { class: 'brand-text' }, h('strong', null, 'ragway'), h('small', null, t('app.tagline')))),
      navEl,
      h('div', { class: 'sidebar-foot' }, langSwitch(), logout));
    const scrim = h('div', { class: 'scrim', onclick: () => setNav(false) });
    const topbar = h('header', { class: 'topbar' },
      btn(t('nav.menu'), { kind: 'ghost', icon: 'menu', iconOnly: true, testid: 'menu-toggle', onclick: () => setNav(!S.navOpen) }),
      h('a', { class: 'brand brand-small', href: '#/dashboard' }, brandMark(), h('strong', null, 'ragway')),
      h('span', { class: 'topbar-title' }, t('nav.' + active)));
    const content = h('main', { class: 'content', id: 'content', testid: 'page-' + active });
    const shell = h('div', { class: 'shell' }, sidebar, scrim, h('div', { class: 'main-col' }, topbar, content));
    navEl.addEventListener('click', (e) => { if (e.target.closest('a')) setNav(false); });
    clear(app).appendChild(shell);
    window.scrollTo(0, 0);
    return content;
  }

  function setNav(open) {
    S.navOpen = open;
    const shell = document.querySelector('.shell');
    if (shell) {
      // Slide only when the menu button asks, not when the window is resized.
      shell.classList.add('nav-animate');
      shell.classList.toggle('nav-open', open);
    }
  }

  // ------------------------------------------------------------------
  // Setup and login
  // ------------------------------------------------------------------
  function authFrame(app, ...body) {
    clear(app).appendChild(h('div', { class: 'auth-wrap' },
      h('div', { class: 'auth-top' }, langSwitch()),
      h('div', { class: 'auth-brand' }, brandMark(), h('div', null, h('strong', null, 'ragway'), h('small', null, t('app.tagline')))),
      body));
  }

  const ROLES = ['chat', 'embeddings', 'images', 'rerank'];

  function renderSetup(app, ctx) {
    document.title = t('setup.title') + ' · ragway';
    if (S.setupDone) {
      authFrame(app, h('div', { class: 'auth-card card', testid: 'setup-done' },
        h('div', { class: 'done-mark' }, icon('check')),
        h('h1', { class: 'auth-title' }, t('setup.done_title')),
        h('p', { class: 'auth-sub' }, t('setup.done_body')),
        secretBox(S.setupDone.key, 'setup-key'),
        btn(t('setup.continue'), { kind: 'primary', block: true, testid: 'setup-continue', onclick: () => { S.setupDone = null; go('dashboard'); } })));
      return;
    }
    const pw = input({ type: 'password', autocomplete: 'new-password', testid: 'setup-password', minlength: '12' });
    const pw2 = input({ type: 'password', autocomplete: 'new-password', testid: 'setup-password2' });
    const err = inlineError('setup-error');
    const meter = h('div', { class: 'pw-meter' }, h('span'));
    pw.addEventListener('input', () => {
      const n = [...pw.value].length;
      meter.classList.toggle('good', n >= 12);
      meter.firstChild.style.width = Math.min(100, (n / 12) * 100) + '%';
    });
    const provInputs = {};
    const provGroups = ROLES.map((role) => {
      const base = input({ type: 'url', placeholder: 'https://api.example.com/v1', testid: 'setup-' + role + '-base-url' });
      const model = input({ testid: 'setup-' + role + '-model' });
      const key = input({ type: 'password', autocomplete: 'off', testid: 'setup-' + role + '-api-key' });
      provInputs[role] = { base, model, key };
      return h('fieldset', { class: 'setup-role' },
        h('legend', null, t('prov.' + role)),
        h('div', { class: 'grid-3' }, field(t('prov.base_url'), base), field(t('prov.model'), model), field(t('prov.api_key'), key)));
    });
    const details = h('details', { class: 'setup-providers', testid: 'setup-providers' },
      h('summary', null, icon('chevron', 'summary-chevron'), t('setup.providers')),
      h('p', { class: 'field-hint' }, t('setup.providers_hint')), provGroups);
    const submit = btn(t('setup.submit'), { kind: 'primary', type: 'submit', block: true, testid: 'setup-submit' });
    const form = h('form', {
      class: 'form', novalidate: true,
      onsubmit: async (e) => {
        e.preventDefault();
        err.hide();
        const count = [...pw.value].length;
        if (count < 12) { err.show(t('setup.too_short', { count })); pw.focus(); return; }
        if (pw.value !== pw2.value) { err.show(t('setup.mismatch')); pw2.focus(); return; }
        const providers = {};
        for (const role of ROLES) {
          const p = provInputs[role];
          const entry = {};
          if (p.base.value.trim()) entry.base_url = p.base.value.trim();
          if (p.model.value.trim()) entry.model = p.model.value.trim();
          if (p.key.value.trim()) entry.api_key = p.key.value.trim();
          if (Object.keys(entry).length) providers[role] = entry;
        }
        const body = { password: pw.value };
        if (Object.keys(providers).length) body.providers = providers;
        await busy(submit, async () => {
          try {
            const res = await api('POST', '/api/admin/setup', body, { quiet401: true });
            S.setupRequired = false;
            S.authed = true;
            S.setupDone = res.key;
            rememberKey(res.key);
            if (ctx.alive()) renderSetup(app, ctx);
          } catch (e2) {
            if (e2.status === 409) { S.setupRequired = false; S.authed = null; go('login'); return; }
            err.show(errorText(e2));
          }
        });
      },
    },
    field(t('setup.password'), pw, { hint: t('setup.password_hint') }), meter,
    field(t('setup.password2'), pw2),
    details, err.el, submit);
    authFrame(app, h('div', { class: 'auth-card card auth-card-wide', testid: 'setup-page' },
      h('h1', { class: 'auth-title' }, t('setup.title')),
      h('p', { class: 'auth-sub' }, t('setup.subtitle')),
      form));
    setTimeout(() => pw.focus(), 0);
  }

  function renderLogin(app, ctx) {
    document.title = t('login.title') + ' · ragway';
    const pw = input({ type: 'password', autocomplete: 'current-password', testid: 'login-password' });
    const err = inlineError('login-error');
    const submit = btn(t('login.submit'), { kind: 'primary', type: 'submit', block: true, testid: 'login-submit' });
    const form = h('form', {
      class: 'form', novalidate: true,
      onsubmit: async (e) => {
        e.preventDefault();
        err.hide();
        if (!pw.value) { pw.focus(); return; }
        await busy(submit, async () => {
          try {
            await api('POST', '/api/admin/login', { password: pw.value }, { quiet401: true });
            S.authed = true;
            const target = S.afterLogin;
            S.afterLogin = null;
            if (target && target !== '#/login') location.hash = target;
            else go('dashboard');
          } catch (e2) {
            if (e2.status === 409) { S.setupRequired = true; go('setup'); return; }
            err.show(errorText(e2));
            pw.select();
          }
        });
      },
    }, field(t('login.password'), pw), err.el, submit);
    authFrame(app, h('div', { class: 'auth-card card', testid: 'login-page' },
      h('div', { class: 'auth-lock' }, icon('lock')),
      h('h1', { class: 'auth-title' }, t('login.title')),
      h('p', { class: 'auth-sub' }, t('login.subtitle')),
      form));
    if (ctx.alive()) setTimeout(() => pw.focus(), 0);
  }

  // ------------------------------------------------------------------
  // Dashboard
  // ------------------------------------------------------------------
  async function countOf(path) {
    const res = await api('GET', path);
    const n = (res && res.data) ? res.data.length : 0;
    return res && res.has_more ? n + '+' : n;
  }

  async function pageDashboard(root, ctx) {
    root.appendChild(pageHeader(t('dash.title'), t('dash.subtitle'),
      btn(t('common.refresh'), { icon: 'refresh', testid: 'dash-refresh', onclick: () => render() })));
    const body = h('div', { class: 'stack' }, loadingBlock());
    root.appendChild(body);

    const healthP = fetch('/health', { credentials: 'same-origin' }).then((r) => r.json());
    const [health, collections, conversations, keys, models, usage] = await Promise.all([
      healthP,
      api('GET', '/v1/collections').catch(() => null),
      countOf('/api/admin/conversations?limit=100').catch(() => '—'),
      api('GET', '/api/admin/keys').catch(() => null),
      api('GET', '/api/admin/models').catch(() => null),
      api('GET', '/api/admin/usage').catch((e) => e),
    ]);
    if (!ctx.alive()) return;
    clear(body);

    const index = health.index || {};
    if (index.status === 'mismatch' || index.status === 'reindexing') body.appendChild(reindexBanner(index));

    const docs = collections ? collections.data.reduce((sum, c) => sum + (c.documents || 0), 0) : '—';
    const now = Date.now();
    const activeKeys = keys ? keys.data.filter((k) => !k.revoked && !(k.expires_at && k.expires_at < now)).length : '—';
    const stats = [
      ['knowledge', 'dash.documents', docs, 'knowledge', 'stat-documents'],
      ['folder', 'dash.collections', collections ? collections.data.length : '—', 'knowledge', 'stat-collections'],
      ['conversations', 'dash.conversations', conversations, 'conversations', 'stat-conversations'],
      ['keys', 'dash.keys', activeKeys, 'keys', 'stat-keys'],
      ['models', 'dash.models', models ? models.data.length : '—', 'models', 'stat-models'],
    ];
    body.appendChild(h('div', { class: 'stats', testid: 'dash-counts' }, stats.map(([ic, label, value, link, testid]) =>
      h('a', { class: 'stat', href: '#/' + link, testid },
        h('span', { class: 'stat-icon' }, icon(ic)),
        h('span', { class: 'stat-text' }, h('span', { class: 'stat-value' }, typeof value === 'number' ? fmtNumber(value) : String(value)), h('span', { class: 'stat-label' }, t(label)))))));
    body.appendChild(usageCard(usage, keys ? keys.data : []));

    const checks = health.checks || {};
    const queue = health.ingest_queue;
    const service = card({ title: t('dash.service'), icon: 'activity', testid: 'dash-service', actions: statusBadge(health.status, 'health-status') },
      kv([
        [t('dash.version'), health.version],
        [t('dash.database'), statusBadge(checks.database, 'check-database')],
        [t('dash.vector_store'), statusBadge(checks.vector_store, 'check-vector-store')],
        [t('dash.blob_store'), statusBadge(checks.blob_store, 'check-blob-store')],
        [t('dash.queue'), queue ? t('dash.queue_value', { ingest: queue.ingest, reindex: queue.reindex }) : null],
      ]));
    const indexCard = card({ title: t('dash.index'), icon: 'database', testid: 'dash-index', actions: statusBadge(index.status, 'index-status') },
      kv([
        [t('dash.configured_model'), index.configured_model ? h('code', { testid: 'index-configured-model' }, index.configured_model) : null],
        [t('dash.index_model'), index.model ? h('code', null, index.model) : null],
        [t('dash.dimension'), index.dimension],
      ]));
    const up = health.upstreams || {};
    const pools = health.upstream_keys || {};
    const upstreams = card({ title: t('dash.upstreams'), icon: 'providers', testid: 'dash-upstreams', actions: h('a', { class: 'link', href: '#/providers' }, t('dash.manage')) },
      kv(ROLES.map((role) => {
        const configured = up[role] === 'configured';
        const badgeEl = statusBadge(configured ? 'configured' : 'not_configured', 'upstream-' + role);
        const keys = configured ? poolKeysBadge(role, pools[role]) : null;
        return [t('prov.' + role), keys ? h('span', { class: 'badge-pair' }, keys, badgeEl) : badgeEl];
      })));
    body.appendChild(h('div', { class: 'grid-cards' }, service, indexCard, upstreams));
    body.appendChild(connectCard(models ? models.data.map((m) => m.id) : []));
  }

  // "2/3 keys" beside a role on the dashboard, when its pool has several
  // keys or none of them can take calls; null otherwise.
  function poolKeysBadge(role, summary) {
    if (!summary || typeof summary.keys !== 'number') return null;
    const { keys, active } = summary;
    if (!(keys > 1 || active === 0)) return null;
    const kind = active === 0 ? 'danger' : (active < keys ? 'warn' : 'neutral');
    const b = badge(t('pool.dash_keys', { active, keys }), kind, 'upstream-' + role + '-keys');
    b.setAttribute('title', t('pool.dash_keys_title', { active, keys, cooling: summary.cooling || 0, blocked: summary.blocked || 0 }));
    b.setAttribute('data-active', String(active));
    b.setAttribute('data-keys', String(keys));
    return b;
  }

  // Requests and tokens of the last days: totals, a bar per day, the top keys.
  function usageCard(usage, keys) {
    const opts = { title: t('usage.title'), icon: 'chart', testid: 'dash-usage', actions: h('a', { class: 'link', href: '#/logs', testid: 'usage-logs-link' }, t('usage.view_logs') + ' →') };
    if (!usage || usage instanceof Error) {
      return card(opts, h('p', { class: 'muted' }, usage ? errorText(usage) : t('err.generic')));
    }
    const total = usage.total || {};
    if (!total.requests) {
      return card(opts, emptyState('chart', t('usage.empty'), t('usage.empty_body'), null, 'usage-empty'));
    }
    const keyLabel = keyLabeller(keys);
    // Every day of the range, oldest first, zero where nothing was counted.
    const days = [];
    const first = Date.parse(usage.from + 'T00:00:00Z');
    const last = Date.parse(usage.to + 'T00:00:00Z');
    for (let d = first; d <= last && days.length < 31; d += 86400000) days.push(new Date(d).toISOString().slice(0, 10));
    const perDay = new Map(days.map((d) => [d, { requests: 0, tokens: 0 }]));
    const perKey = new Map();
    for (const row of usage.data || []) {
      const day = perDay.get(row.day);
      if (day) { day.requests += row.requests; day.tokens += row.total_tokens; }
      const k = perKey.get(row.key_id) || { id: row.key_id, name: row.key_name, requests: 0, tokens: 0 };
      k.requests += row.requests;
      k.tokens += row.total_tokens;
      perKey.set(row.key_id, k);
    }
    const max = Math.max(1, ...[...perDay.values()].map((d) => d.requests));
    const bars = h('div', { class: 'bars', testid: 'usage-bars', role: 'img', 'aria-label': t('usage.per_day') }, days.map((day, i) => {
      const v = perDay.get(day);
      const date = new Date(day + 'T00:00:00Z');
      const fill = h('span', { class: 'bar-fill' });
      fill.style.height = (v.requests ? Math.max(4, (v.requests / max) * 100) : 0) + '%';
      return h('div', {
        class: 'bar' + (v.requests ? '' : ' zero') + (i === days.length - 1 ? ' today' : ''),
        testid: 'usage-bar', 'data-day': day, 'data-requests': String(v.requests),
        title: t('usage.day_title', { day: date.toLocaleDateString(locale(), { weekday: 'long', month: 'long', day: 'numeric', timeZone: 'UTC' }), requests: fmtNumber(v.requests), tokens: fmtNumber(v.tokens) }),
      },
      h('span', { class: 'bar-value' }, fmtCompact(v.requests)),
      h('span', { class: 'bar-track' }, fill),
      h('span', { class: 'bar-label' }, date.toLocaleDateString(locale(), { weekday: 'short', timeZone: 'UTC' })),
      h('span', { class: 'bar-date' }, date.toLocaleDateString(locale(), { month: 'numeric', day: 'numeric', timeZone: 'UTC' })));
    }));
    const top = [...perKey.values()].sort((a, b) => (b.tokens - a.tokens) || (b.requests - a.requests)).slice(0, 5);
    const topMax = Math.max(1, ...top.map((k) => k.tokens));
    const topList = h('div', { class: 'top-keys', testid: 'usage-top-keys' }, top.map((k) => {
      const bar = h('div', { class: 'progress thin' }, h('span'));
      bar.firstChild.style.width = (k.tokens ? Math.max(2, (k.tokens / topMax) * 100) : 0) + '%';
      return h('div', { class: 'top-key', testid: 'usage-top-key' },
        h('div', { class: 'top-key-line' },
          h('span', { class: 'top-key-name', title: k.id }, keyLabel(k.id, k.name) || '—'),
          h('span', { class: 'top-key-value' }, t('usage.key_value', { tokens: fmtCompact(k.tokens), requests: fmtCompact(k.requests) }))),
        bar);
    }));
    const totals = h('div', { class: 'usage-totals' },
      h('div', { class: 'usage-total' },
        h('span', { class: 'usage-total-value', testid: 'usage-requests' }, fmtNumber(total.requests)),
        h('span', { class: 'usage-total-label' }, t('usage.requests'))),
      h('div', { class: 'usage-total' },
        h('span', { class: 'usage-total-value', testid: 'usage-tokens' }, fmtCompact(total.total_tokens)),
        h('span', { class: 'usage-total-label' }, t('usage.tokens')),
        h('span', { class: 'usage-total-sub' }, t('usage.split', { prompt: fmtCompact(total.prompt_tokens), completion: fmtCompact(total.completion_tokens) }))));
    return card(opts,
      h('div', { class: 'usage' },
        h('div', { class: 'usage-main' }, totals,
          h('div', { class: 'usage-chart' }, h('div', { class: 'usage-caption' }, t('usage.per_day')), bars)),
        h('div', { class: 'usage-side' }, h('div', { class: 'usage-caption' }, t('usage.top_keys')), topList)),
      usage.dropped_log_rows ? h('p', { class: 'field-hint usage-dropped' }, t('usage.dropped', { count: fmtNumber(usage.dropped_log_rows) })) : null);
  }

  function connectCard(modelIds) {
    const baseUrl = location.origin + '/v1';
    const example = [
      'curl ' + baseUrl + '/chat/completions \\',
      '  -H "Authorization: Bearer sk-…" \\',
      '  -H "Content-Type: application/json" \\',
      "  -d '{\"model\": \"" + (modelIds[0] || 'ragway') + "\", \"stream\": true,",
      "       \"messages\": [{\"role\": \"user\", \"content\": \"Hello\"}]}'",
    ].join('\n');
    const copy = btn(t('common.copy'), {
      small: true, icon: 'copy', iconOnly: true, testid: 'connect-copy',
      onclick: async () => toast((await copyText(baseUrl)) ? t('common.copied') : t('common.copy_failed'), 'ok'),
    });
    return card({ title: t('dash.connect'), subtitle: t('dash.connect_sub'), icon: 'spark', testid: 'dash-connect' },
      h('div', { class: 'connect' },
        h('div', { class: 'connect-facts' },
          field(t('dash.base_url'), h('div', { class: 'connect-url' }, h('code', { testid: 'connect-base-url' }, baseUrl), copy)),
          field(t('dash.model_names'), h('div', { class: 'chips' }, modelIds.map((id) => badge(id, 'accent')))),
          h('a', { class: 'link', href: '#/keys' }, t('dash.key_link') + ' →')),
        field(t('dash.example'), h('pre', { class: 'md-pre' }, h('code', null, example)))));
  }

  function reindexBanner(index) {
    const banner = h('div', { class: 'banner banner-warn', testid: 'reindex-banner' });
    const fill = () => {
      clear(banner);
      if (index.status === 'reindexing' && index.reindex) {
        const r = index.reindex;
        const pct = r.documents_total ? Math.round((r.documents_done / r.documents_total) * 100) : 0;
        const bar = h('div', { class: 'progress' }, h('span'));
        bar.firstChild.style.width = pct + '%';
        banner.className = 'banner banner-info';
        add(banner, [icon('refresh'), h('div', { class: 'banner-text' },
          h('strong', null, t('dash.reindexing', { model: r.model, done: r.documents_done, total: r.documents_total })), bar,
          r.error ? h('p', { class: 'danger-text' }, t('dash.reindex_error', { error: r.error })) : null)]);
      } else {
        const b = btn(t('dash.reindex'), { kind: 'primary', small: true, icon: 'refresh', testid: 'reindex-start' });
        b.addEventListener('click', () => busy(b, async () => {
          try {
            await api('POST', '/api/admin/reindex');
            toast(t('dash.reindex_started'));
            render();
          } catch (e) { toast(errorText(e), 'error'); }
        }));
        add(banner, [icon('alert'), h('div', { class: 'banner-text' },
          h('strong', null, t('dash.mismatch_title')),
          h('p', null, t('dash.mismatch_body', { model: index.configured_model }))), b]);
      }
    };
    fill();
    if (index.status === 'reindexing') {
      const timer = setInterval(async () => {
        try {
          const health = await fetch('/health').then((r) => r.json());
          if (!health.index) return;
          if (health.index.status !== 'reindexing') { clearInterval(timer); render(); return; }
          index = health.index;
          fill();
        } catch (_) { /* try again */ }
      }, 3000);
      onCleanup(() => clearInterval(timer));
    }
    return banner;
  }

  // ------------------------------------------------------------------
  // Providers
  // ------------------------------------------------------------------
  const ROLE_ICON = { chat: 'conversations', embeddings: 'database', images: 'spark', rerank: 'logs' };

  async function pageProviders(root, ctx) {
    root.appendChild(pageHeader(t('prov.title'), t('prov.subtitle')));
    const grid = h('div', { class: 'grid-2' }, loadingBlock());
    root.appendChild(grid);
    const [views, pools] = await Promise.all([
      api('GET', '/api/admin/providers'),
      api('GET', '/api/admin/upstreams').catch((e) => e),
    ]);
    if (!ctx.alive()) return;
    clear(grid);
    // A provider saved with new keys changes its pool, and a key added to or
    // taken out of a pool changes its provider: each refreshes the other.
    const providerHooks = {};
    const poolHooks = {};
    const refreshProvider = async (role) => {
      try {
        const fresh = await api('GET', '/api/admin/providers');
        if (fresh[role] && providerHooks[role].update) providerHooks[role].update(fresh[role]);
      } catch (_) { /* the card keeps what it shows */ }
    };
    const refreshPool = async (role) => {
      if (!poolHooks[role]) return;
      try {
        const fresh = await api('GET', '/api/admin/upstreams');
        const pool = (fresh.data || []).find((p) => p.role === role);
        if (pool) poolHooks[role].set(pool);
      } catch (_) { /* the card keeps what it shows */ }
    };
    for (const role of ROLES) {
      providerHooks[role] = { changed: () => refreshPool(role) };
      grid.appendChild(providerCard(role, views[role] || { role }, providerHooks[role]));
    }

    const section = h('section', { class: 'pools', testid: 'pools' },
      h('div', { class: 'section-head' },
        h('h2', { class: 'section-title' }, icon('keys'), t('pool.title')),
        h('p', { class: 'section-sub' }, t('pool.subtitle'))));
    root.appendChild(section);
    if (pools instanceof Error) {
      section.appendChild(h('div', { class: 'card' }, h('div', { class: 'card-body' },
        h('div', { class: 'inline-error', role: 'alert', testid: 'pools-error' }, icon('alert'), h('span', null, t('pool.load_failed', { error: errorText(pools) }))))));
      return;
    }
    const byRole = new Map((pools.data || []).map((p) => [p.role, p]));
    const poolGrid = h('div', { class: 'grid-2 pool-grid' });
    for (const role of ROLES) {
      if (!byRole.has(role)) continue;
      poolHooks[role] = { changed: () => refreshProvider(role) };
      poolGrid.appendChild(poolCard(role, byRole.get(role), poolHooks[role]));
    }
    section.appendChild(poolGrid);
  }

  function plural(n, one, many, vars) {
    return n === 1 ? t(one, vars) : t(many, Object.assign({ n: fmtNumber(n) }, vars));
  }

  // A time later today as 14:05:30, another day as the full date and time.
  function fmtClock(ms) {
    if (ms == null) return '—';
    const d = new Date(ms);
    if (new Date().toDateString() === d.toDateString()) {
      return d.toLocaleTimeString(locale(), { hour: '2-digit', minute: '2-digit', second: '2-digit' });
    }
    return fmtTime(ms);
  }

  // One role's key pool: its counts, every key with its state, and a form
  // to add keys. `hooks.set(view)` redraws it from a PoolView.
  function poolCard(role, initial, hooks) {
    let view = initial;
    const id = 'pool-' + role;
    const roleName = t('prov.' + role);
    const el = h('section', { class: 'card pool', testid: id });
    const headBadges = h('div', { class: 'provider-badges' });
    const sub = h('p', { class: 'card-sub pool-model' });
    const summary = h('div', { class: 'pool-summary', testid: id + '-summary' });
    const list = h('div', { class: 'pool-keys', testid: id + '-keys' });
    const newKey = input({ type: 'password', autocomplete: 'new-password', testid: id + '-new-key', placeholder: t('pool.new_key_ph'), 'aria-label': t('pool.new_key', { role: roleName }) });
    const addBtn = btn(t('pool.add'), { kind: 'secondary', icon: 'plus', type: 'submit', testid: id + '-add' });
    const form = h('form', {
      class: 'pool-add', novalidate: true,
      onsubmit: (e) => {
        e.preventDefault();
        const value = newKey.value.trim();
        if (!value) { toast(t('pool.key_required'), 'error'); newKey.focus(); return; }
        busy(addBtn, async () => {
          try {
            const before = view.keys.filter((k) => k.key != null).length;
            view = await api('POST', '/api/admin/upstreams/' + role + '/keys', { key: value });
            draw();
            newKey.value = '';
            const added = view.keys.filter((k) => k.key != null).length - before;
            toast(added > 1 ? t('pool.added_many', { n: added, role: roleName }) : t('pool.added', { role: roleName }));
            if (hooks && hooks.changed) hooks.changed();
          } catch (err) { toast(errorText(err), 'error'); }
        });
      },
    }, newKey, addBtn);

    const keyRow = (k) => {
      const fp = k.fingerprint;
      const keyless = k.key == null;
      const label = keyless ? t('pool.no_key') : k.key;
      const details = [];
      if (k.state === 'blocked') {
        details.push(h('div', { class: 'pool-key-note danger-text', testid: id + '-blocked-' + fp, title: k.blocked_reason || null },
          icon('ban'),
          h('span', { class: 'pool-note-text' }, k.blocked_reason || t('status.blocked'))));
      }
      if (k.cooling && k.cooling.length) {
        details.push(h('div', { class: 'pool-cooling', testid: id + '-cooling-' + fp }, k.cooling.map((c) =>
          h('span', { class: 'pool-cool', title: c.reason || null },
            h('code', null, c.model),
            h('span', null, t('pool.cooling_until', { time: fmtClock(c.until) }))))));
      }
      const facts = [];
      if (k.state === 'blocked' && k.blocked_at) facts.push(t('pool.blocked_since', { time: fmtClock(k.blocked_at) }));
      facts.push(plural(k.requests || 0, 'pool.requests_one', 'pool.requests_many'));
      if (k.failures) facts.push(t('pool.failures', { n: fmtNumber(k.failures) }));
      if (k.rate_limited) facts.push(t('pool.rate_limited', { n: fmtNumber(k.rate_limited) }));
      facts.push(k.last_used_at ? t('pool.last_used', { time: fmtAgo(k.last_used_at) }) : t('pool.never_used'));
      const shownReasons = new Set([k.blocked_reason, ...(k.cooling || []).map((c) => c.reason)]);
      const lastError = k.last_error && !shownReasons.has(k.last_error)
        ? h('div', { class: 'pool-key-error', title: k.last_error }, t('pool.last_error', { error: k.last_error })) : null;

      const actions = h('div', { class: 'row-actions' });
      const canEnable = k.state === 'blocked' || k.state === 'cooling';
      const canRemove = !keyless && fp !== '-';
      if (canEnable) {
        const enable = btn(t('pool.enable'), { small: true, icon: 'check', testid: id + '-enable-' + fp });
        enable.addEventListener('click', () => busy(enable, async () => {
          try {
            view = await api('POST', '/api/admin/upstreams/' + role + '/keys/' + encodeURIComponent(fp) + '/enable', {});
            draw();
            toast(t('pool.enabled', { key: label }));
          } catch (err) { toast(errorText(err), 'error'); }
        }));
        actions.appendChild(enable);
      }
      if (canRemove) {
        const remove = btn(t('pool.remove'), { small: true, kind: 'ghost-danger', icon: 'trash', iconOnly: true, testid: id + '-remove-' + fp });
        remove.addEventListener('click', async () => {
          const last = view.keys.filter((x) => x.key != null).length <= 1;
          const ok = await confirmDialog({
            title: t('pool.remove_title'),
            message: t(last ? 'pool.remove_last' : 'pool.remove_confirm', { key: k.key, role: roleName }),
            danger: true,
            ok: t('pool.remove'),
          });
          if (!ok) return;
          await busy(remove, async () => {
            try {
              view = await api('DELETE', '/api/admin/upstreams/' + role + '/keys/' + encodeURIComponent(fp));
              draw();
              toast(t('pool.removed', { key: k.key, role: roleName }));
              if (hooks && hooks.changed) hooks.changed();
            } catch (err) { toast(errorText(err), 'error'); }
          });
        });
        actions.appendChild(remove);
      }

      const cls = 'pool-key is-' + k.state + (canEnable ? ' has-enable' : '') + (canRemove ? ' has-remove' : '');
      return h('div', { class: cls, testid: id + '-key-' + fp, 'data-state': k.state, 'data-fingerprint': fp },
        h('div', { class: 'pool-key-main' },
          h('div', { class: 'pool-key-line' },
            keyless ? h('span', { class: 'pool-key-mask muted', testid: id + '-mask-' + fp }, label)
              : h('code', { class: 'pool-key-mask', testid: id + '-mask-' + fp }, label),
            keyless ? null : h('code', { class: 'pool-key-fp', title: t('pool.fingerprint') }, fp),
            statusBadge(k.state, id + '-state-' + fp)),
          details,
          h('div', { class: 'pool-key-facts' }, facts.join(' · ')),
          lastError),
        canEnable || canRemove ? actions : null);
    };

    const draw = () => {
      const sum = view.summary || { keys: view.keys.length, active: 0, cooling: 0, blocked: 0 };
      const keyless = view.keys.length === 1 && view.keys[0].key == null;
      clear(headBadges);
      headBadges.appendChild(badge(keyless ? t('pool.no_key') : plural(sum.keys, 'pool.keys_one', 'pool.keys_many'), 'neutral', id + '-count'));
      if (!view.configured) headBadges.appendChild(statusBadge('not_configured', id + '-status'));
      clear(sub);
      if (view.model) sub.appendChild(h('code', null, view.model));
      sub.hidden = !view.model;

      clear(summary);
      const count = (kind, n, key) => h('span', { class: 'pool-count pool-count-' + kind + (n ? '' : ' zero'), testid: id + '-' + key },
        h('span', { class: 'dot' }), t('pool.' + key, { n: fmtNumber(n) }));
      const errors = Object.entries(view.errors || {}).filter(([, n]) => n > 0);
      add(summary, [
        h('span', { class: 'pool-counts' },
          count('ok', sum.active, 'active'),
          count('warn', sum.cooling, 'cooling'),
          count('danger', sum.blocked, 'blocked')),
        h('span', { class: 'pool-stats' },
          h('span', { class: 'pool-retries', testid: id + '-retries' }, plural(view.retries || 0, 'pool.retries_one', 'pool.retries_many')),
          h('span', { class: 'pool-errors', testid: id + '-errors', title: t('pool.errors_hint') },
            errors.length
              ? errors.map(([kind, n]) => h('span', { class: 'pool-error', 'data-kind': kind }, h('span', { class: 'pool-error-kind' }, kind), '× ' + fmtNumber(n)))
              : h('span', { class: 'muted' }, t('pool.no_errors')))),
      ]);

      clear(list);
      for (const k of view.keys) list.appendChild(keyRow(k));
      if (keyless) list.appendChild(h('p', { class: 'field-hint pool-hint' }, t('pool.keyless_hint')));
    };

    add(el, [
      h('div', { class: 'card-head' },
        h('div', { class: 'card-titles' },
          h('h2', { class: 'card-title' }, h('span', { class: 'role-icon' }, icon(ROLE_ICON[role])), roleName),
          sub),
        headBadges),
      h('div', { class: 'card-body pool-body' }, summary, list),
      h('div', { class: 'card-foot pool-foot' }, form),
    ]);
    if (hooks) hooks.set = (fresh) => { view = fresh; draw(); };
    draw();
    return el;
  }

  function providerCard(role, initial, hooks) {
    let view = initial;
    const el = h('section', { class: 'card provider', testid: 'provider-' + role });
    const listId = 'models-' + role;
    const datalist = h('datalist', { id: listId });
    const base = input({ type: 'url', placeholder: 'https://api.example.com/v1', testid: 'provider-' + role + '-base-url' });
    const model = input({ list: listId, testid: 'provider-' + role + '-model' });
    const key = input({ type: 'password', autocomplete: 'new-password', testid: 'provider-' + role + '-api-key' });
    const clearKey = toggle(t('prov.clear_key'), false, { testid: 'provider-' + role + '-clear-key' });
    const result = h('div', { class: 'test-result', testid: 'provider-' + role + '-result', hidden: true, 'aria-live': 'polite' });
    const head = h('div', { class: 'card-head' });
    const status = h('div', { class: 'provider-badges' });
    const errorLine = h('div');

    const fill = () => {
      base.value = view.base_url || '';
      model.value = view.model || '';
      key.value = '';
      clearKey.box.checked = false;
      fillMeta();
    };
    // What a change to the pool alters: the saved key, the source, the badges.
    const fillMeta = () => {
      key.placeholder = view.keys > 1 ? t('prov.keys_saved', { count: view.keys })
        : view.api_key ? t('prov.key_saved', { masked: view.api_key }) : t('prov.key_none');
      clearKey.el.hidden = !view.api_key;
      if (!view.api_key) clearKey.box.checked = false;
      clear(status);
      status.appendChild(statusBadge(view.configured ? 'configured' : 'not_configured', 'provider-' + role + '-status'));
      status.appendChild(badge(view.source === 'admin' ? t('prov.source_admin') : t('prov.source_settings'), view.source === 'admin' ? 'accent' : 'neutral', 'provider-' + role + '-source'));
      reset.hidden = view.source !== 'admin';
      clear(errorLine);
      if (view.error) errorLine.appendChild(h('div', { class: 'inline-error' }, icon('alert'), h('span', null, view.error)));
      updated.textContent = view.updated_at ? t('prov.updated', { time: fmtTime(view.updated_at) }) : '';
      updated.hidden = !view.updated_at;
    };

    const values = () => {
      const body = { base_url: base.value.trim() || null, model: model.value.trim() || null };
      if (clearKey.box.checked) body.api_key = null;
      else if (key.value.trim()) body.api_key = key.value.trim();
      return body;
    };

    const showResult = (report) => {
      clear(result);
      result.hidden = false;
      result.className = 'test-result ' + (report.ok ? 'ok' : 'fail');
      result.setAttribute('data-ok', report.ok ? 'true' : 'false');
      if (report.ok) {
        result.appendChild(icon('check'));
        result.appendChild(h('span', { testid: 'provider-' + role + '-latency' }, t('prov.test_ok', { ms: report.latency_ms, model: report.model || '—' })));
      } else {
        result.appendChild(icon('alert'));
        result.appendChild(h('span', null, h('strong', null, t('prov.test_fail') + (report.status ? ' (' + report.status + ')' : '') + ': '), report.error || ''));
      }
    };

    const test = btn(t('prov.test'), { icon: 'activity', testid: 'provider-' + role + '-test' });
    test.addEventListener('click', () => busy(test, async () => {
      try { showResult(await api('POST', '/api/admin/providers/' + role + '/test', values())); } catch (e) { showResult({ ok: false, error: errorText(e), status: e.status }); }
    }));
    const save = btn(t('common.save'), { kind: 'primary', icon: 'check', testid: 'provider-' + role + '-save' });
    save.addEventListener('click', () => busy(save, async () => {
      try {
        view = await api('PUT', '/api/admin/providers/' + role, values());
        fill();
        toast(t('prov.saved', { role: t('prov.' + role) }));
        if (hooks && hooks.changed) hooks.changed();
      } catch (e) { toast(errorText(e), 'error'); }
    }));
    const reset = btn(t('prov.reset'), { kind: 'ghost', icon: 'refresh', testid: 'provider-' + role + '-reset' });
    reset.addEventListener('click', async () => {
      if (!await confirmDialog({ message: t('prov.reset_confirm', { role: t('prov.' + role) }), danger: true, ok: t('prov.reset') })) return;
      await busy(reset, async () => {
        try {
          view = await api('DELETE', '/api/admin/providers/' + role);
          fill();
          result.hidden = true;
          toast(t('prov.reset_done', { role: t('prov.' + role) }));
          if (hooks && hooks.changed) hooks.changed();
        } catch (e) { toast(errorText(e), 'error'); }
      });
    });
    const listBtn = btn(t('prov.list_models'), { kind: 'ghost', small: true, icon: 'search', testid: 'provider-' + role + '-list-models' });
    listBtn.addEventListener('click', () => busy(listBtn, async () => {
      try {
        const res = await api('POST', '/api/admin/providers/' + role + '/models', values());
        clear(datalist);
        const ids = (res.data || []).map((m) => m.id);
        for (const id of ids) datalist.appendChild(h('option', { value: id }));
        renderPicker(ids);
        toast(ids.length ? t('prov.models_loaded', { count: ids.length }) : t('prov.models_none'), ids.length ? 'ok' : 'error');
      } catch (e) { toast(errorText(e), 'error'); }
    }));
    const picker = h('div', { class: 'chips picker', testid: 'provider-' + role + '-models', hidden: true });
    const renderPicker = (ids) => {
      clear(picker);
      picker.hidden = !ids.length;
      for (const id of ids.slice(0, 40)) {
        picker.appendChild(h('button', { type: 'button', class: 'chip' + (id === model.value ? ' active' : ''), onclick: () => { model.value = id; renderPicker(ids); } }, id));
      }
    };
    const updated = h('p', { class: 'muted small provider-updated' });

    add(head, [h('div', { class: 'card-titles' },
      h('h2', { class: 'card-title' }, h('span', { class: 'role-icon' }, icon(ROLE_ICON[role])), t('prov.' + role)),
      h('p', { class: 'card-sub' }, t('prov.' + role + '_desc')), updated), status]);
    add(el, [head, h('div', { class: 'card-body form' },
      errorLine,
      field(t('prov.base_url'), base),
      field(t('prov.model'), model, { extra: listBtn }),
      picker, datalist,
      field(t('prov.api_key'), key),
      clearKey.el,
      result),
    h('div', { class: 'card-foot' }, h('span'), h('div', { class: 'row-actions' }, reset, test, save))]);
    fill();
    if (hooks) hooks.update = (fresh) => { view = fresh; fillMeta(); };
    return el;
  }

  // ------------------------------------------------------------------
  // Models
  // ------------------------------------------------------------------
  async function pageModels(root, ctx) {
    const newBtn = btn(t('models.new'), { kind: 'primary', icon: 'plus', testid: 'model-new' });
    root.appendChild(pageHeader(t('models.title'), t('models.subtitle'), newBtn));
    const holder = h('div', null, loadingBlock());
    root.appendChild(holder);
    const [models, collections, settings] = await Promise.all([
      api('GET', '/api/admin/models'),
      api('GET', '/v1/collections').catch(() => ({ data: [] })),
      api('GET', '/api/admin/settings').catch(() => null),
    ]);
    if (!ctx.alive()) return;
    const extra = { collections: collections.data || [], settings };
    newBtn.addEventListener('click', () => modelForm(null, extra));
    clear(holder);
    if (!models.data.length) {
      holder.appendChild(card({}, emptyState('models', t('models.empty'), null, btn(t('models.new'), { kind: 'primary', icon: 'plus', onclick: () => modelForm(null, extra) }))));
      return;
    }
    const features = (m) => h('div', { class: 'chips' },
      m.retrieval ? badge(t('models.feature_retrieval'), 'accent') : null,
      m.rerank ? badge(t('models.feature_rerank'), 'info') : null,
      m.drawing ? badge(t('models.feature_drawing'), 'warn') : null,
      m.citation_footer ? badge(t('models.feature_footer'), 'neutral') : null);
    holder.appendChild(card({ flush: true, testid: 'models-card' }, table([
      { label: t('models.id'), class: 'col-main', render: (m) => h('div', null,
        h('div', { class: 'cell-main' }, h('strong', null, m.id), m.builtin ? badge(t('models.builtin'), 'neutral') : null),
        m.system_prompt ? h('div', { class: 'cell-sub', title: m.system_prompt }, m.system_prompt) : null) },
      { label: t('models.upstream'), render: (m) => m.upstream_model ? h('code', null, m.upstream_model) : h('span', { class: 'muted' }, t('common.default')) },
      { label: t('models.collections'), render: (m) => m.collections.length ? h('div', { class: 'chips' }, m.collections.map((c) => badge(c, 'neutral'))) : h('span', { class: 'muted' }, t('models.all_collections')) },
      { label: t('models.features'), render: features },
      { label: t('common.updated'), render: (m) => m.builtin ? null : timeEl(m.updated_at) },
      {
        label: '', class: 'col-actions', render: (m) => h('div', { class: 'row-actions' },
          btn(t('common.edit'), { small: true, icon: 'edit', testid: 'model-edit-' + m.id, onclick: () => modelForm(m, extra) }),
          m.builtin ? null : btn(t('common.delete'), {
            small: true, kind: 'ghost-danger', icon: 'trash', iconOnly: true, testid: 'model-delete-' + m.id,
            onclick: async () => {
              if (!await confirmDialog({ message: t('models.delete_confirm', { id: m.id }), danger: true, ok: t('common.delete') })) return;
              try { await api('DELETE', '/api/admin/models/' + encodeURIComponent(m.id)); toast(t('models.deleted', { id: m.id })); render(); } catch (e) { toast(errorText(e), 'error'); }
            },
          })),
      },
    ], models.data, { rowTestid: (m) => 'model-row-' + m.id, testid: 'models-table' })));
  }

  function numberOrNull(el) {
    const v = el.value.trim();
    if (v === '') return null;
    const n = Number(v);
    return Number.isFinite(n) ? n : v;
  }

  function splitList(text) {
    return text.split(/[,，\n]/).map((s) => s.trim()).filter(Boolean);
  }

  function modelForm(model, extra) {
    const m = model || { id: '', collections: [], retrieval: true, rerank: false, drawing: false, citation_footer: false };
    const settings = extra.settings || {};
    const upstreamList = h('datalist', { id: 'upstream-models' });
    const id = input({ testid: 'model-form-id', value: m.id, placeholder: 'e.g. handbook' });
    const upstream = input({ testid: 'model-form-upstream', value: m.upstream_model || '', list: 'upstream-models', placeholder: t('common.default') });
    const prompt = textarea({ testid: 'model-form-system-prompt', rows: '4', placeholder: settings.system_prompt || '' });
    prompt.value = m.system_prompt || '';
    const chosen = new Set(m.collections || []);
    const colls = h('div', { class: 'chips collection-picker', testid: 'model-form-collections' });
    const collections = extra.collections || [];
    if (!collections.length) colls.appendChild(h('span', { class: 'muted small' }, t('models.no_collections')));
    for (const c of collections) {
      const box = h('input', { type: 'checkbox', value: c.name, checked: chosen.has(c.name), testid: 'model-form-collection-' + c.name });
      colls.appendChild(h('label', { class: 'check-chip' }, box, h('span', null, c.name)));
    }
    const retrieval = toggle(t('models.retrieval'), m.retrieval, { testid: 'model-form-retrieval' });
    const rerank = toggle(t('models.rerank'), m.rerank, { testid: 'model-form-rerank' });
    const drawing = toggle(t('models.drawing'), m.drawing, { testid: 'model-form-drawing' });
    const footer = toggle(t('models.citation_footer'), m.citation_footer, { testid: 'model-form-citation-footer' });
    const topK = input({ type: 'number', min: '1', max: '50', testid: 'model-form-top-k', value: m.top_k == null ? '' : String(m.top_k), placeholder: settings.top_k != null ? t('models.global', { value: settings.top_k }) : '' });
    const threshold = input({ type: 'number', min: '-1', max: '1', step: '0.01', testid: 'model-form-score-threshold', value: m.score_threshold == null ? '' : String(m.score_threshold) });
    const maxMessages = input({ type: 'number', min: '1', max: '1000', testid: 'model-form-max-messages', value: m.max_messages == null ? '' : String(m.max_messages), placeholder: settings.max_messages != null ? t('models.global', { value: settings.max_messages }) : '' });
    const globalTriggers = (settings.draw_triggers || []).join(', ');
    const triggers = input({ testid: 'model-form-draw-triggers', value: (m.draw_triggers || []).join(', '), placeholder: globalTriggers });
    const err = inlineError('model-form-error');
    const save = btn(t('common.save'), { kind: 'primary', icon: 'check', testid: 'model-save' });

    const body = h('form', { class: 'form', novalidate: true, onsubmit: (e) => { e.preventDefault(); save.click(); } },
      m.builtin ? h('div', { class: 'banner banner-info compact' }, icon('alert'), h('span', null, t('models.builtin_hint'))) : null,
      h('div', { class: 'grid-2-tight' },
        field(t('models.id'), id, { hint: t('models.id_hint') }),
        field(t('models.upstream'), upstream, { hint: t('models.upstream_hint'), optional: true })),
      upstreamList,
      field(t('models.system_prompt'), prompt, { hint: t('models.system_prompt_hint'), optional: true }),
      h('h3', { class: 'form-section' }, t('models.retrieval_section')),
      retrieval.el,
      field(t('models.collections'), colls, { hint: t('models.collections_hint') }),
      h('div', { class: 'grid-2-tight' },
        field(t('models.top_k'), topK, { optional: true }),
        field(t('models.score_threshold'), threshold, { hint: t('models.score_hint'), optional: true })),
      rerank.el, footer.el,
      h('h3', { class: 'form-section' }, t('models.limits_section')),
      h('div', { class: 'grid-2-tight' },
        field(t('models.max_messages'), maxMessages, { optional: true }),
        field(t('models.draw_triggers'), triggers, { hint: t('models.triggers_hint', { value: globalTriggers || '—' }), optional: true })),
      drawing.el,
      err.el);

    const dlg = modal({
      title: model ? t('models.edit', { id: m.id }) : t('models.create_title'),
      wide: true, testid: 'model-modal', body,
      actions: [btn(t('common.cancel'), { kind: 'ghost', onclick: () => dlg.close() }), save],
    });

    api('GET', '/api/admin/providers/chat/models').then((res) => {
      for (const item of (res.data || [])) upstreamList.appendChild(h('option', { value: item.id }));
    }).catch(() => { /* the picker is a convenience */ });

    save.addEventListener('click', () => busy(save, async () => {
      err.hide();
      const picked = [...colls.querySelectorAll('input[type=checkbox]')].filter((b) => b.checked).map((b) => b.value);
      const trig = splitList(triggers.value);
      const payload = {
        id: id.value.trim(),
        upstream_model: upstream.value.trim() || null,
        system_prompt: prompt.value.trim() ? prompt.value : null,
        collections: picked,
        retrieval: retrieval.box.checked,
        top_k: numberOrNull(topK),
        score_threshold: numberOrNull(threshold),
        rerank: rerank.box.checked,
        drawing: drawing.box.checked,
        draw_triggers: trig.length ? trig : null,
        max_messages: numberOrNull(maxMessages),
        citation_footer: footer.box.checked,
      };
      try {
        if (model) {
          await api('PATCH', '/api/admin/models/' + encodeURIComponent(model.id), payload);
          toast(t('models.updated', { id: payload.id }));
        } else {
          await api('POST', '/api/admin/models', payload);
          toast(t('models.created', { id: payload.id }));
        }
        dlg.close();
        render();
      } catch (e) {
        err.show(errorText(e));
      }
    }));
  }

  // ------------------------------------------------------------------
  // Keys
  // ------------------------------------------------------------------
  function keyState(k) {
    if (k.revoked) return 'revoked';
    if (k.expires_at && k.expires_at < Date.now()) return 'expired';
    return 'active';
  }

  async function pageKeys(root, ctx) {
    root.appendChild(pageHeader(t('keys.title'), t('keys.subtitle')));
    const name = input({ testid: 'key-name', placeholder: t('keys.name_ph'), maxlength: '100' });
    const role = select([{ value: 'user', label: t('keys.role_user') }, { value: 'admin', label: t('keys.role_admin') }], { testid: 'key-role' });
    const expires = input({ type: 'date', testid: 'key-expires', min: new Date(Date.now() + 86400000).toISOString().slice(0, 10) });
    const rpm = input({ type: 'number', min: '1', step: '1', inputmode: 'numeric', testid: 'key-rpm', placeholder: t('keys.no_limit') });
    const tpd = input({ type: 'number', min: '1', step: '1', inputmode: 'numeric', testid: 'key-tpd', placeholder: t('keys.no_limit') });
    const err = inlineError('key-error');
    const create = btn(t('common.create'), { kind: 'primary', icon: 'plus', type: 'submit', testid: 'key-create' });
    const form = h('form', {
      class: 'form key-form', novalidate: true,
      onsubmit: (e) => {
        e.preventDefault();
        err.hide();
        if (!name.value.trim()) { err.show(t('keys.name_required')); name.focus(); return; }
        const body = { name: name.value.trim(), role: role.value };
        if (expires.value) {
          const end = new Date(expires.value + 'T23:59:59');
          if (!isNaN(end.getTime())) body.expires_at = end.toISOString();
        }
        const perMinute = numberOrNull(rpm);
        const perDay = numberOrNull(tpd);
        if (perMinute != null) body.requests_per_minute = perMinute;
        if (perDay != null) body.tokens_per_day = perDay;
        busy(create, async () => {
          try {
            const key = await api('POST', '/api/admin/keys', body);
            rememberKey(key);
            name.value = '';
            expires.value = '';
            rpm.value = '';
            tpd.value = '';
            showSecret(key);
            loadList();
          } catch (e2) { err.show(errorText(e2)); }
        });
      },
    },
    h('div', { class: 'key-form-grid' },
      field(t('keys.name'), name, { class: 'key-field-name' }),
      field(t('keys.role'), role),
      field(t('keys.expires'), expires, { optional: true }),
      field(t('keys.rpm'), rpm, { optional: true }),
      field(t('keys.tpd'), tpd, { optional: true })),
    err.el,
    h('div', { class: 'key-form-foot' },
      h('p', { class: 'field-hint' }, t('keys.limits_hint')),
      create));
    root.appendChild(card({ title: t('keys.create'), icon: 'plus', testid: 'key-create-card' }, form));
    const list = h('div', null, loadingBlock());
    root.appendChild(list);

    async function loadList() {
      let keys;
      try { keys = await api('GET', '/api/admin/keys'); } catch (e) {
        if (ctx.alive()) clear(list).appendChild(errorBlock(e, loadList));
        return;
      }
      if (!ctx.alive()) return;
      clear(list);
      if (!keys.data.length) {
        list.appendChild(card({}, emptyState('keys', t('keys.empty'))));
        return;
      }
      const rows = keys.data.slice().sort((a, b) => (a.revoked - b.revoked) || (b.created_at - a.created_at));
      list.appendChild(card({ flush: true, testid: 'keys-card' }, table([
        {
          label: t('keys.name'), class: 'col-main', render: (k) => h('div', null,
            h('strong', { testid: 'key-name-cell' }, k.name),
            h('div', { class: 'cell-sub', title: new Date(k.created_at).toISOString() }, t('keys.created_on', { time: fmtTime(k.created_at) }))),
        },
        { label: t('keys.prefix'), render: (k) => h('code', { class: 'nowrap' }, k.prefix + '…') },
        { label: t('keys.role'), render: (k) => badge(k.role === 'admin' ? t('keys.role_admin') : t('keys.role_user'), k.role === 'admin' ? 'accent' : 'neutral') },
        { label: t('common.status'), render: (k) => statusBadge(keyState(k), 'key-status') },
        { label: t('keys.last_used'), render: (k) => timeEl(k.last_used_at, true) },
        { label: t('keys.expires'), render: (k) => (k.expires_at ? timeEl(k.expires_at) : h('span', { class: 'muted' }, t('common.never'))) },
        { label: t('keys.limits'), render: keyLimits },
        {
          label: '', class: 'col-actions', render: (k) => k.revoked ? h('span') : h('div', { class: 'row-actions' }, btn(t('common.edit'), {
            small: true, icon: 'edit', testid: 'key-edit',
            onclick: () => keyEditForm(k, loadList),
          }), btn(t('keys.revoke'), {
            small: true, kind: 'ghost-danger', icon: 'ban', iconOnly: true, testid: 'key-revoke',
            onclick: async () => {
              if (!await confirmDialog({ title: t('keys.revoke_title'), message: t('keys.revoke_confirm', { name: k.name, prefix: k.prefix }), danger: true, ok: t('keys.revoke') })) return;
              try {
                await api('DELETE', '/api/admin/keys/' + encodeURIComponent(k.id));
                toast(t('keys.revoked', { name: k.name }));
                loadList();
              } catch (e) { toast(errorText(e), 'error'); }
            },
          })),
        },
      ], rows, { testid: 'keys-table', rowTestid: () => 'key-row', rowAttrs: (k) => ({ 'data-key-id': k.id, 'data-key-name': k.name, 'data-state': keyState(k) }) })));
    }
    await loadList();
  }

  function keyLimits(k) {
    const parts = [];
    if (k.requests_per_minute != null) parts.push(h('span', { class: 'limit' }, t('keys.rpm_value', { n: fmtNumber(k.requests_per_minute) })));
    if (k.tokens_per_day != null) parts.push(h('span', { class: 'limit' }, t('keys.tpd_value', { n: fmtCompact(k.tokens_per_day) })));
    if (!parts.length) return h('span', { class: 'muted', testid: 'key-limits', 'data-none': '' }, t('keys.limits_none'));
    return h('span', { class: 'limits', testid: 'key-limits' }, parts.map((p, i) => [i ? h('span', { class: 'limit-sep', 'aria-hidden': 'true' }, ' · ') : null, p]));
  }

  function localDay(ms) {
    if (!ms) return '';
    const d = new Date(ms);
    const pad = (n) => String(n).padStart(2, '0');
    return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate());
  }

  function keyEditForm(k, onSaved) {
    const name = input({ testid: 'key-edit-name', value: k.name, maxlength: '100' });
    const numberProps = { type: 'number', min: '1', step: '1', inputmode: 'numeric', placeholder: t('keys.no_limit') };
    const rpm = input(Object.assign({ testid: 'key-edit-rpm', value: k.requests_per_minute == null ? '' : String(k.requests_per_minute) }, numberProps));
    const tpd = input(Object.assign({ testid: 'key-edit-tpd', value: k.tokens_per_day == null ? '' : String(k.tokens_per_day) }, numberProps));
    const originalDay = localDay(k.expires_at);
    const expires = input({ type: 'date', testid: 'key-edit-expires', value: originalDay });
    const err = inlineError('key-edit-error');
    const save = btn(t('common.save'), { kind: 'primary', icon: 'check', testid: 'key-edit-save' });
    const body = h('form', { class: 'form', novalidate: true, onsubmit: (e) => { e.preventDefault(); save.click(); } },
      h('div', { class: 'key-edit-meta' }, h('code', null, k.prefix + '…'), badge(k.role === 'admin' ? t('keys.role_admin') : t('keys.role_user'), k.role === 'admin' ? 'accent' : 'neutral'), statusBadge(keyState(k))),
      field(t('keys.name'), name),
      h('div', { class: 'grid-2-tight' },
        field(t('keys.rpm'), rpm, { optional: true }),
        field(t('keys.tpd'), tpd, { optional: true })),
      h('p', { class: 'field-hint key-edit-hint' }, t('keys.edit_limits_hint')),
      field(t('keys.expires'), expires, { optional: true, hint: t('keys.edit_expires_hint') }),
      err.el,
      h('button', { type: 'submit', hidden: true, tabindex: '-1' }));
    const dlg = modal({
      title: t('keys.edit_title', { name: k.name }), testid: 'key-edit-modal', body,
      actions: [btn(t('common.cancel'), { kind: 'ghost', testid: 'key-edit-cancel', onclick: () => dlg.close() }), save],
    });
    save.addEventListener('click', () => busy(save, async () => {
      err.hide();
      if (!name.value.trim()) { err.show(t('keys.name_required')); name.focus(); return; }
      const payload = {
        name: name.value.trim(),
        requests_per_minute: numberOrNull(rpm),
        tokens_per_day: numberOrNull(tpd),
      };
      // Only a changed expiry is sent: an expired key keeps its past date.
      if (expires.value !== originalDay) {
        if (!expires.value) payload.expires_at = null;
        else {
          const end = new Date(expires.value + 'T23:59:59');
          payload.expires_at = isNaN(end.getTime()) ? expires.value : end.toISOString();
        }
      }
      try {
        const saved = await api('PATCH', '/api/admin/keys/' + encodeURIComponent(k.id), payload);
        toast(t('keys.saved', { name: (saved && saved.name) || payload.name }));
        dlg.close();
        if (onSaved) onSaved();
      } catch (e) {
        err.show(errorText(e));
      }
    }));
  }

  function showSecret(key) {
    const dlg = modal({
      title: t('keys.created_title'), testid: 'key-secret-modal',
      body: h('div', { class: 'stack-sm' },
        h('p', null, t('keys.secret_label', { name: key.name })),
        secretBox(key.key, 'key-secret')),
      actions: [
        btn(t('keys.try'), { kind: 'ghost', icon: 'playground', onclick: () => { S.pg.keyChoice = key.id; dlg.close(); go('playground'); } }),
        btn(t('common.close'), { kind: 'primary', testid: 'key-secret-close', onclick: () => dlg.close() }),
      ],
    });
  }

  // ------------------------------------------------------------------
  // Knowledge: collections and documents
  // ------------------------------------------------------------------
  async function pageKnowledge(root, ctx) {
    root.appendChild(pageHeader(t('kb.title'), t('kb.subtitle')));
    const state = { collections: [], docs: [], cursor: null, hasMore: false, filters: { collection: '', status: '', q: '' }, uploadMax: null };

    const topGrid = h('div', { class: 'kb-top' });
    const addCard = h('div');
    const collCard = h('div');
    add(topGrid, [addCard, collCard]);
    root.appendChild(topGrid);
    const docsHolder = h('div');
    root.appendChild(docsHolder);
    const rtHolder = h('div');
    root.appendChild(rtHolder);

    const [collections, settings, models] = await Promise.all([
      api('GET', '/v1/collections'),
      api('GET', '/api/admin/settings').catch(() => null),
      api('GET', '/api/admin/models').catch(() => ({ data: [] })),
    ]);
    if (!ctx.alive()) return;
    state.collections = collections.data || [];
    state.uploadMax = settings ? settings.upload_max_bytes : null;
    state.models = (models && models.data) || [];

    // --- add documents ---
    // Pseudo-collections of the list filter (real names never start with a space).
    const VIS_SHARED = ' shared';
    const VIS_PRIVATE = ' private';
    const collectionSelect = (testid, withAll) => select(
      (withAll ? [
        { value: '', label: t('kb.all_collections') },
        { value: VIS_SHARED, label: t('kb.only_shared') },
        { value: VIS_PRIVATE, label: t('kb.only_private') },
      ] : []).concat(state.collections.map((c) => ({ value: c.name, label: c.name, selected: !withAll && c.name === 'default' }))),
      { testid });
    const uploadCollection = collectionSelect('upload-collection', false);
    const fileInput = h('input', { type: 'file', multiple: true, class: 'visually-hidden', testid: 'file-input', accept: '.txt,.md,.markdown,.html,.htm,.pdf,.docx,.csv,.json,text/*,application/pdf,application/json' });
    const uploads = h('div', { class: 'uploads', testid: 'uploads' });
    const drop = h('label', { class: 'dropzone', testid: 'dropzone', tabindex: '0' },
      fileInput,
      h('span', { class: 'dropzone-icon' }, icon('upload')),
      h('span', { class: 'dropzone-title' }, t('kb.drop')),
      h('span', { class: 'dropzone-hint' }, t('kb.drop_hint', { size: fmtBytes(state.uploadMax || 52428800) })));
    drop.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); fileInput.click(); } });
    ['dragenter', 'dragover'].forEach((ev) => drop.addEventListener(ev, (e) => { e.preventDefault(); drop.classList.add('over'); }));
    ['dragleave', 'drop'].forEach((ev) => drop.addEventListener(ev, (e) => { e.preventDefault(); drop.classList.remove('over'); }));
    drop.addEventListener('drop', (e) => { if (e.dataTransfer && e.dataTransfer.files) uploadFiles([...e.dataTransfer.files]); });
    fileInput.addEventListener('change', () => { uploadFiles([...fileInput.files]); fileInput.value = ''; });

    function uploadFiles(files) {
      for (const file of files) uploadOne(file);
    }

    function uploadOne(file) {
      const bar = h('div', { class: 'progress' }, h('span'));
      const statusEl = h('span', { class: 'upload-status' }, t('kb.uploading'));
      const item = h('div', { class: 'upload-item', testid: 'upload-item' },
        icon('file'),
        h('div', { class: 'upload-main' },
          h('div', { class: 'upload-line' }, h('span', { class: 'upload-name' }, file.name), h('span', { class: 'muted small' }, fmtBytes(file.size))),
          bar, statusEl));
      uploads.prepend(item);
      if (state.uploadMax && file.size > state.uploadMax) {
        item.classList.add('failed');
        statusEl.textContent = t('kb.drop_hint', { size: fmtBytes(state.uploadMax) });
        return;
      }
      const form = new FormData();
      form.append('file', file, file.name);
      form.append('collection', uploadCollection.value || 'default');
      const xhr = new XMLHttpRequest();
      xhr.open('POST', '/v1/documents');
      xhr.withCredentials = true;
      xhr.setRequestHeader('Accept', 'application/json');
      xhr.upload.addEventListener('progress', (e) => {
        if (e.lengthComputable) bar.firstChild.style.width = Math.round((e.loaded / e.total) * 100) + '%';
      });
      xhr.addEventListener('load', () => {
        let data = null;
        try { data = JSON.parse(xhr.responseText); } catch (_) { data = null; }
        if (xhr.status >= 200 && xhr.status < 300 && data) {
          bar.firstChild.style.width = '100%';
          item.classList.add('done');
          clear(statusEl).appendChild(statusBadge(data.status));
          if (data.duplicate) statusEl.appendChild(h('span', { class: 'muted small' }, ' ' + t('kb.duplicate', { title: data.title })));
          reloadDocs();
          refreshCollections();
        } else {
          if (xhr.status === 401) { sessionEnded(); return; }
          item.classList.add('failed');
          statusEl.textContent = (data && data.error && data.error.message) || ('HTTP ' + xhr.status);
        }
      });
      xhr.addEventListener('error', () => { item.classList.add('failed'); statusEl.textContent = t('err.network'); });
      xhr.send(form);
    }

    const pasteTitle = input({ testid: 'doc-title', placeholder: t('kb.doc_title_ph') });
    const pasteText = textarea({ testid: 'doc-text', rows: '6', placeholder: t('kb.doc_text_ph') });
    const pasteCollection = collectionSelect('doc-collection', false);
    const pasteErr = inlineError('doc-error');
    const pasteSubmit = btn(t('kb.doc_submit'), { kind: 'primary', icon: 'plus', type: 'submit', testid: 'doc-submit' });
    const pasteForm = h('form', {
      class: 'form', novalidate: true,
      onsubmit: (e) => {
        e.preventDefault();
        pasteErr.hide();
        if (!pasteText.value.trim()) { pasteErr.show(t('kb.text_required')); pasteText.focus(); return; }
        const body = { text: pasteText.value, collection: pasteCollection.value || 'default' };
        if (pasteTitle.value.trim()) body.title = pasteTitle.value.trim();
        busy(pasteSubmit, async () => {
          try {
            const doc = await api('POST', '/v1/documents', body);
            toast(doc.duplicate ? t('kb.duplicate', { title: doc.title }) : t('kb.added', { title: doc.title }));
            pasteTitle.value = '';
            pasteText.value = '';
            reloadDocs();
            refreshCollections();
          } catch (e2) { pasteErr.show(errorText(e2)); }
        });
      },
    },
    h('div', { class: 'grid-2-tight' }, field(t('kb.doc_title'), pasteTitle, { optional: true }), field(t('kb.collection'), pasteCollection)),
    field(t('kb.doc_text'), pasteText),
    pasteErr.el,
    h('div', { class: 'form-actions' }, pasteSubmit));

    const uploadPane = h('div', { class: 'form' }, field(t('kb.collection'), uploadCollection), drop, uploads);
    const tabs = [['upload', t('kb.tab_upload'), uploadPane], ['paste', t('kb.tab_paste'), pasteForm]];
    const tabBar = h('div', { class: 'tabs', role: 'tablist' });
    const tabBody = h('div', { class: 'tab-body' });
    const showTab = (name) => {
      for (const b of tabBar.children) b.classList.toggle('active', b.dataset.tab === name);
      for (const [n, , pane] of tabs) pane.hidden = n !== name;
    };
    for (const [n, label, pane] of tabs) {
      tabBar.appendChild(h('button', { type: 'button', class: 'tab', role: 'tab', 'data-tab': n, testid: 'tab-' + n, onclick: () => showTab(n) }, label));
      tabBody.appendChild(pane);
    }
    showTab('upload');
    addCard.appendChild(card({ title: t('kb.add'), icon: 'upload', testid: 'kb-add' }, tabBar, tabBody));

    // --- collections ---
    const collList = h('div', { class: 'coll-list', testid: 'collections' });
    const collName = input({ testid: 'collection-name', placeholder: t('kb.collection_name_ph') });
    const collDesc = input({ testid: 'collection-description', placeholder: t('kb.collection_desc_ph') });
    const collErr = inlineError('collection-error');
    const collCreate = btn(t('common.create'), { kind: 'secondary', icon: 'plus', type: 'submit', testid: 'collection-create' });
    const collForm = h('form', {
      class: 'coll-form', novalidate: true,
      onsubmit: (e) => {
        e.preventDefault();
        collErr.hide();
        if (!collName.value.trim()) { collName.focus(); return; }
        busy(collCreate, async () => {
          try {
            const c = await api('POST', '/v1/collections', { name: collName.value.trim(), description: collDesc.value.trim() });
            toast(t('kb.collection_created', { name: c.name }));
            collName.value = '';
            collDesc.value = '';
            await refreshCollections();
          } catch (e2) { collErr.show(errorText(e2)); }
        });
      },
    }, h('div', { class: 'coll-form-row' }, collName, collDesc, collCreate), collErr.el);
    collCard.appendChild(card({ title: t('kb.collections'), icon: 'folder', testid: 'kb-collections' }, collList, h('div', { class: 'divider' }), h('p', { class: 'form-section small-top' }, t('kb.new_collection')), collForm));

    function renderCollections() {
      clear(collList);
      for (const c of state.collections) {
        collList.appendChild(h('div', { class: 'coll', testid: 'collection-row', 'data-name': c.name },
          h('span', { class: 'coll-icon' }, icon('folder')),
          h('div', { class: 'coll-main' },
            h('div', { class: 'coll-name' }, h('strong', null, c.name), h('span', { class: 'muted small' }, t('kb.docs_count', { count: fmtNumber(c.documents || 0) }))),
            c.description ? h('div', { class: 'muted small coll-desc' }, c.description) : null),
          c.name === 'default' ? null : btn(t('common.delete'), {
            small: true, kind: 'ghost-danger', icon: 'trash', iconOnly: true, testid: 'collection-delete',
            onclick: async () => {
              if (!await confirmDialog({ message: t('kb.collection_delete_confirm', { name: c.name, count: c.documents || 0 }), danger: true, ok: t('common.delete') })) return;
              try {
                await api('DELETE', '/v1/collections/' + encodeURIComponent(c.name) + '?force=true');
                toast(t('kb.collection_deleted', { name: c.name }));
                await refreshCollections();
                reloadDocs();
              } catch (e) { toast(errorText(e), 'error'); }
            },
          })));
      }
      // keep the selects in step
      for (const sel of [uploadCollection, pasteCollection, filterCollection]) {
        const current = sel.value;
        const withAll = sel === filterCollection;
        clear(sel);
        if (withAll) {
          sel.appendChild(h('option', { value: '' }, t('kb.all_collections')));
          sel.appendChild(h('option', { value: VIS_SHARED }, t('kb.only_shared')));
          sel.appendChild(h('option', { value: VIS_PRIVATE }, t('kb.only_private')));
        }
        for (const c of state.collections) sel.appendChild(h('option', { value: c.name }, c.name));
        const pseudo = withAll && ['', VIS_SHARED, VIS_PRIVATE].includes(current);
        sel.value = state.collections.some((c) => c.name === current) || pseudo ? current : (withAll ? '' : 'default');
      }
      fillRtCollections();
    }

    async function refreshCollections() {
      try {
        const res = await api('GET', '/v1/collections');
        if (!ctx.alive()) return;
        state.collections = res.data || [];
        renderCollections();
      } catch (_) { /* keep the old list */ }
    }

    // --- retrieval test ---
    const rtQuestion = textarea({ testid: 'rt-question', rows: '2', placeholder: t('rt.question_ph') });
    const rtModel = select([{ value: '', label: t('rt.default_model') }].concat(state.models.map((m) => ({ value: m.id, label: m.id }))), { testid: 'rt-model' });
    const rtCollection = select([], { testid: 'rt-collection' });
    const rtTopK = input({ type: 'number', min: '1', max: '50', step: '1', value: '5', inputmode: 'numeric', testid: 'rt-top-k' });
    const rtRun = btn(t('rt.run'), { kind: 'primary', icon: 'search', type: 'submit', testid: 'rt-run' });
    const rtErr = inlineError('rt-error');
    const rtResults = h('div', { class: 'rt-results', testid: 'rt-results', hidden: true });
    function fillRtCollections() {
      const current = rtCollection.value;
      clear(rtCollection);
      rtCollection.appendChild(h('option', { value: '' }, t('rt.model_collections')));
      for (const c of state.collections) rtCollection.appendChild(h('option', { value: c.name }, c.name));
      rtCollection.value = state.collections.some((c) => c.name === current) ? current : '';
    }
    fillRtCollections();
    const rtForm = h('form', {
      class: 'form rt-form', novalidate: true,
      onsubmit: (e) => {
        e.preventDefault();
        rtErr.hide();
        const question = rtQuestion.value.trim();
        if (!question) { rtErr.show(t('rt.question_required')); rtQuestion.focus(); return; }
        const topK = Number(rtTopK.value);
        if (!Number.isInteger(topK) || topK < 1 || topK > 50) { rtErr.show(t('rt.top_k_range')); rtTopK.focus(); return; }
        const body = { question, top_k: topK };
        if (rtModel.value) body.model = rtModel.value;
        if (rtCollection.value) body.collections = [rtCollection.value];
        busy(rtRun, async () => {
          try {
            const res = await api('POST', '/api/admin/retrieval/test', body);
            if (!ctx.alive()) return;
            renderRetrieval(res);
          } catch (e2) {
            rtErr.show(errorText(e2));
          }
        });
      },
    },
    field(t('rt.question'), rtQuestion),
    h('div', { class: 'rt-controls' },
      field(t('rt.model'), rtModel),
      field(t('rt.collection'), rtCollection),
      field(t('rt.top_k'), rtTopK, { class: 'rt-topk' }),
      h('div', { class: 'rt-submit' }, rtRun)),
    rtErr.el);
    rtQuestion.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { e.preventDefault(); rtForm.requestSubmit(); }
    });
    rtHolder.appendChild(card({ title: t('rt.title'), subtitle: t('rt.subtitle'), icon: 'search', testid: 'kb-retrieval', flush: true }, rtForm, rtResults));

    const dash = () => h('span', { class: 'muted', title: t('rt.not_found') }, '—');
    const num = (v, digits) => (typeof v === 'number' && isFinite(v) ? v.toFixed(digits) : null);
    function rankScore(rank, score, digits, testid) {
      if (rank == null) return h('span', { testid }, dash());
      return h('span', { class: 'rt-score', testid },
        h('span', { class: 'rt-rank' }, '#' + rank),
        num(score, digits) != null ? h('span', { class: 'rt-score-value' }, num(score, digits)) : null);
    }
    function excerpt(text) {
      const full = String(text || '').trim();
      const flat = full.replace(/\s+/g, ' ');
      const long = flat.length > 240;
      const short = long ? flat.slice(0, 240).replace(/\s+\S*$/, '') + '…' : flat;
      const p = h('p', { class: 'rt-excerpt', title: long ? full : null, testid: 'rt-excerpt' }, short);
      if (!long) return p;
      let open = false;
      const toggle = h('button', { type: 'button', class: 'link small rt-more', testid: 'rt-more' }, t('rt.more'));
      toggle.addEventListener('click', () => {
        open = !open;
        p.classList.toggle('open', open);
        p.textContent = open ? full : short;
        toggle.textContent = open ? t('rt.less') : t('rt.more');
      });
      return h('div', null, p, toggle);
    }
    function renderRetrieval(res) {
      clear(rtResults);
      rtResults.hidden = false;
      const sources = Array.isArray(res.sources) ? res.sources : [];
      const queries = Array.isArray(res.queries) && res.queries.length ? res.queries : (res.query ? [res.query] : []);
      const took = typeof res.took_ms === 'number' ? (res.took_ms < 10 ? res.took_ms.toFixed(1) : fmtNumber(Math.round(res.took_ms))) : '—';
      rtResults.appendChild(h('div', { class: 'rt-summary', testid: 'rt-summary' },
        h('span', { class: 'rt-summary-count' }, h('strong', null, sources.length === 1 ? t('rt.found_one') : t('rt.found', { count: fmtNumber(sources.length) })), ' ', t('rt.took', { ms: took })),
        res.model ? badge(res.model, 'neutral') : null,
        res.rerank ? badge(t('rt.rerank'), 'accent') : null,
        queries.length ? h('span', { class: 'rt-queries', testid: 'rt-queries' },
          h('span', { class: 'muted' }, t('rt.searched')),
          queries.map((q) => h('q', { class: 'rt-query' }, q))) : null));
      if (!sources.length) {
        rtResults.appendChild(emptyState('search', t('rt.empty'), t('rt.empty_body'), null, 'rt-empty'));
        return;
      }
      const reranked = res.rerank || sources.some((s) => typeof s.rerank_score === 'number');
      const columns = [
        {
          label: t('rt.col_source'), class: 'col-main', render: (s) => h('div', { class: 'rt-source-cell' },
            h('span', { class: 'source-num' }, String(s.index)),
            h('div', { class: 'rt-source-main' },
              h('div', { class: 'rt-source-head' },
                h('strong', { class: 'rt-source-title', testid: 'rt-source-title' }, s.title || s.document_id || '—'),
                s.heading ? h('span', { class: 'muted small rt-heading' }, s.heading) : null,
                s.page != null ? h('span', { class: 'muted small nowrap' }, t('rt.page', { page: s.page })) : null,
                s.collection ? badge(s.collection, 'neutral') : null),
              excerpt(s.text))),
        },
        { label: t('rt.col_vector'), class: 'num rt-num', render: (s) => rankScore(s.explain && s.explain.vector_rank, s.explain ? s.explain.vector_score : null, 3, 'rt-vector') },
        { label: t('rt.col_text'), class: 'num rt-num', render: (s) => rankScore(s.explain && s.explain.text_rank, s.explain ? s.explain.text_score : null, 2, 'rt-text') },
        { label: t('rt.col_fused'), class: 'num rt-num', render: (s) => h('span', { class: 'rt-score-value', testid: 'rt-fused' }, num(s.explain && s.explain.fused_score, 4) || '—') },
      ];
      if (reranked) columns.push({ label: t('rt.col_rerank'), class: 'num rt-num', render: (s) => num(s.rerank_score, 4) != null ? h('span', { class: 'rt-score-value', testid: 'rt-rerank' }, num(s.rerank_score, 4)) : dash() });
      rtResults.appendChild(table(columns, sources, { testid: 'rt-table', rowTestid: () => 'rt-source', rowAttrs: (s) => ({ 'data-chunk-id': s.chunk_id || '' }) }));
    }

    // --- documents ---
    const filterCollection = collectionSelect('doc-filter-collection', true);
    const filterStatus = select([{ value: '', label: t('kb.all_statuses') }].concat(['ready', 'processing', 'pending', 'failed'].map((s) => ({ value: s, label: t('status.' + s) }))), { testid: 'doc-filter-status' });
    const filterQ = input({ type: 'search', placeholder: t('kb.search_ph'), testid: 'doc-filter-q' });
    let qTimer = null;
    filterQ.addEventListener('input', () => { clearTimeout(qTimer); qTimer = setTimeout(reloadDocs, 300); });
    filterCollection.addEventListener('change', reloadDocs);
    filterStatus.addEventListener('change', reloadDocs);
    const docsBody = h('div', { testid: 'documents' });
    const more = btn(t('common.load_more'), { kind: 'ghost', testid: 'docs-more', onclick: () => loadDocs(true) });
    const moreRow = h('div', { class: 'more-row', hidden: true }, more);
    docsHolder.appendChild(card({
      title: t('kb.documents'), icon: 'file', flush: true, testid: 'kb-documents',
      actions: h('div', { class: 'filters' }, filterQ, filterCollection, filterStatus),
    }, docsBody, moreRow));
    renderCollections();

    function docQuery(after) {
      const p = new URLSearchParams();
      if (filterCollection.value === VIS_SHARED) p.set('visibility', 'shared');
      else if (filterCollection.value === VIS_PRIVATE) p.set('visibility', 'private');
      else if (filterCollection.value) p.set('collection', filterCollection.value);
      if (filterStatus.value) p.set('status', filterStatus.value);
      if (filterQ.value.trim()) p.set('q', filterQ.value.trim());
      p.set('limit', '20');
      if (after) p.set('after', after);
      return '/v1/documents?' + p.toString();
    }

    let loadSeq = 0;
    async function loadDocs(append) {
      const seq = ++loadSeq;
      if (!append) {
        if (!state.docs.length) clear(docsBody).appendChild(loadingBlock());
      }
      try {
        const res = await api('GET', docQuery(append ? state.cursor : null));
        if (!ctx.alive() || seq !== loadSeq) return;
        state.docs = append ? state.docs.concat(res.data) : res.data;
        state.cursor = res.next_cursor || null;
        state.hasMore = !!res.has_more;
        renderDocs();
      } catch (e) {
        if (ctx.alive() && seq === loadSeq) clear(docsBody).appendChild(errorBlock(e, () => loadDocs(false)));
      }
    }

    function reloadDocs() { return loadDocs(false); }

    function docProgress(d) {
      if (d.status === 'failed') return h('div', { class: 'doc-error', testid: 'doc-error-text' }, d.error || t('status.failed'));
      if (d.status === 'ready') return h('span', { class: 'muted small' }, d.chunk_count === 1 ? t('kb.chunk_one') : t('kb.chunk_count', { count: d.chunk_count }));
      const total = d.chunks_total || 0;
      const pct = total ? Math.round((d.chunks_done / total) * 100) : 0;
      const bar = h('div', { class: 'progress' + (total ? '' : ' indeterminate') }, h('span'));
      if (total) bar.firstChild.style.width = pct + '%';
      return h('div', { class: 'doc-progress' }, bar, total ? h('span', { class: 'muted small' }, t('kb.chunks', { done: d.chunks_done, total })) : null);
    }

    function renderDocs() {
      clear(docsBody);
      moreRow.hidden = !state.hasMore;
      if (!state.docs.length) {
        const filtered = filterCollection.value || filterStatus.value || filterQ.value.trim();
        docsBody.appendChild(filtered ? emptyState('search', t('kb.no_match')) : emptyState('knowledge', t('kb.empty'), t('kb.empty_body')));
        return;
      }
      docsBody.appendChild(table([
        { label: t('kb.doc_title'), class: 'col-main', render: (d) => h('div', { class: 'cell-main doc-title-cell' }, icon('file'), h('div', null, h('strong', { testid: 'doc-title-text' }, d.title), d.filename && d.filename !== d.title ? h('div', { class: 'muted small' }, d.filename) : null)) },
        { label: t('kb.collection'), render: (d) => d.visibility === 'private' ? badge(t('kb.private'), 'neutral') : badge(d.collection, 'neutral') },
        { label: t('common.status'), render: (d) => h('div', { class: 'doc-status-cell' }, statusBadge(d.status, 'doc-status'), docProgress(d)) },
        { label: t('kb.size'), render: (d) => h('span', { class: 'nowrap' }, fmtBytes(d.bytes)) },
        { label: t('common.created'), render: (d) => timeEl(d.created_at) },
        {
          label: '', class: 'col-actions', render: (d) => h('div', { class: 'row-actions' },
          d.status === 'ready' || d.status === 'failed' ? btn(t('kb.reingest'), {
            small: true, kind: 'ghost', icon: 'refresh', iconOnly: true, testid: 'doc-reingest',
            onclick: async (e) => {
              const b = e.currentTarget;
              await busy(b, async () => {
                try {
                  const doc = await api('POST', '/v1/documents/' + encodeURIComponent(d.id) + '/reingest');
                  toast(t('kb.reingest_started', { title: d.title }));
                  const i = state.docs.findIndex((x) => x.id === d.id);
                  if (i >= 0) state.docs[i] = doc;
                  renderDocs();
                } catch (err2) { toast(errorText(err2), 'error'); }
              });
            },
          }) : null,
          btn(t('common.delete'), {
            small: true, kind: 'ghost-danger', icon: 'trash', iconOnly: true, testid: 'doc-delete',
            onclick: async () => {
              if (!await confirmDialog({ message: t('kb.doc_delete_confirm', { title: d.title }), danger: true, ok: t('common.delete') })) return;
              try {
                await api('DELETE', '/v1/documents/' + encodeURIComponent(d.id));
                toast(t('kb.doc_deleted'));
                state.docs = state.docs.filter((x) => x.id !== d.id);
                renderDocs();
                refreshCollections();
              } catch (e) { toast(errorText(e), 'error'); }
            },
          })),
        },
      ], state.docs, { testid: 'documents-table', rowTestid: () => 'doc-row', rowAttrs: (d) => ({ 'data-doc-id': d.id, 'data-status': d.status }) }));
    }

    // Live status: every 2 s, read the documents still being worked on.
    let polling = false;
    const timer = setInterval(async () => {
      if (polling || !ctx.alive()) return;
      const open = state.docs.filter((d) => d.status === 'pending' || d.status === 'processing').slice(0, 20);
      if (!open.length) return;
      polling = true;
      try {
        const fresh = await Promise.all(open.map((d) => api('GET', '/v1/documents/' + encodeURIComponent(d.id)).catch(() => null)));
        if (!ctx.alive()) return;
        let changed = false;
        let finished = false;
        for (const doc of fresh) {
          if (!doc) continue;
          const i = state.docs.findIndex((d) => d.id === doc.id);
          if (i >= 0 && JSON.stringify(state.docs[i]) !== JSON.stringify(doc)) {
            if (doc.status === 'ready' || doc.status === 'failed') finished = true;
            state.docs[i] = doc;
            changed = true;
          }
        }
        if (changed) renderDocs();
        if (finished) refreshCollections();
      } finally {
        polling = false;
      }
    }, 2000);
    onCleanup(() => clearInterval(timer));

    await loadDocs(false);
  }

  // ------------------------------------------------------------------
  // Conversations
  // ------------------------------------------------------------------
  async function pageConversations(root, ctx, params) {
    if (params[0]) return conversationDetail(root, ctx, params[0]);
    root.appendChild(pageHeader(t('conv.title'), t('conv.subtitle')));
    const keys = await api('GET', '/api/admin/keys').catch(() => ({ data: [] }));
    if (!ctx.alive()) return;
    const keyNames = new Map(keys.data.map((k) => [k.id, k.name + ' · ' + k.prefix + '…']));
    keyNames.set('admin-session', t('conv.admin_session'));
    const filter = select([{ value: '', label: t('conv.all_keys') }]
      .concat(keys.data.map((k) => ({ value: k.id, label: keyNames.get(k.id) })))
      .concat([{ value: 'admin-session', label: t('conv.admin_session') }]), { testid: 'conv-filter-key' });
    if (S.convKey) filter.value = S.convKey;
    const listBody = h('div', { testid: 'conversations' });
    const more = btn(t('common.load_more'), { kind: 'ghost', testid: 'conv-more' });
    const moreRow = h('div', { class: 'more-row', hidden: true }, more);
    root.appendChild(card({ flush: true, testid: 'conv-card', title: t('conv.title'), icon: 'conversations', actions: h('div', { class: 'filters' }, h('label', { class: 'filter-label', for: 'conv-key' }, t('conv.filter_key')), filter) }, listBody, moreRow));
    filter.id = 'conv-key';
    let items = [];
    let cursor = null;
    async function load(append) {
      if (!append) clear(listBody).appendChild(loadingBlock());
      const p = new URLSearchParams({ limit: '25' });
      if (filter.value) p.set('key_id', filter.value);
      if (append && cursor) p.set('after', cursor);
      try {
        const res = await api('GET', '/api/admin/conversations?' + p.toString());
        if (!ctx.alive()) return;
        items = append ? items.concat(res.data) : res.data;
        cursor = res.next_cursor || null;
        moreRow.hidden = !res.has_more;
        draw();
      } catch (e) { if (ctx.alive()) clear(listBody).appendChild(errorBlock(e, () => load(false))); }
    }
    function draw() {
      clear(listBody);
      if (!items.length) {
        listBody.appendChild(emptyState('conversations', t('conv.empty'), t('conv.empty_body')));
        return;
      }
      listBody.appendChild(table([
        { label: t('conv.title'), class: 'col-main', render: (c) => h('a', { class: 'cell-link', href: '#/conversations/' + encodeURIComponent(c.id), testid: 'conv-link' }, c.title || t('conv.untitled')) },
        { label: t('conv.model'), render: (c) => h('code', null, c.model) },
        { label: t('conv.filter_key'), render: (c) => h('span', { class: 'small' }, keyNames.get(c.key_id) || c.key_id) },
        { label: t('conv.messages'), render: (c) => String(c.message_count) },
        { label: t('common.updated'), render: (c) => timeEl(c.updated_at, true) },
        {
          label: '', class: 'col-actions', render: (c) => btn(t('common.delete'), {
            small: true, kind: 'ghost-danger', icon: 'trash', iconOnly: true, testid: 'conv-delete',
            onclick: async () => {
              if (!await confirmDialog({ message: t('conv.delete_confirm'), danger: true, ok: t('common.delete') })) return;
              try {
                await api('DELETE', '/api/admin/conversations/' + encodeURIComponent(c.id));
                toast(t('conv.deleted'));
                items = items.filter((x) => x.id !== c.id);
                draw();
              } catch (e) { toast(errorText(e), 'error'); }
            },
          }),
        },
      ], items, { testid: 'conv-table', rowTestid: () => 'conv-row' }));
    }
    filter.addEventListener('change', () => { S.convKey = filter.value; load(false); });
    more.addEventListener('click', () => busy(more, () => load(true)));
    await load(false);
  }

  async function conversationDetail(root, ctx, id) {
    const back = h('a', { class: 'back-link', href: '#/conversations', testid: 'conv-back' }, icon('arrowLeft'), t('common.back'));
    root.appendChild(back);
    const holder = h('div', null, loadingBlock());
    root.appendChild(holder);
    const [conv, keys] = await Promise.all([
      api('GET', '/api/admin/conversations/' + encodeURIComponent(id)),
      api('GET', '/api/admin/keys').catch(() => ({ data: [] })),
    ]);
    if (!ctx.alive()) return;
    const key = keys.data.find((k) => k.id === conv.key_id);
    clear(holder);
    const del = btn(t('common.delete'), {
      kind: 'ghost-danger', icon: 'trash', testid: 'conv-detail-delete',
      onclick: async () => {
        if (!await confirmDialog({ message: t('conv.delete_confirm'), danger: true, ok: t('common.delete') })) return;
        try {
          await api('DELETE', '/api/admin/conversations/' + encodeURIComponent(id));
          toast(t('conv.deleted'));
          go('conversations');
        } catch (e) { toast(errorText(e), 'error'); }
      },
    });
    holder.appendChild(pageHeader(conv.title || t('conv.untitled'), null, del));
    holder.appendChild(h('div', { class: 'meta-row' },
      badge(conv.model, 'accent'),
      h('span', { class: 'muted small' }, key ? key.name + ' · ' + key.prefix + '…' : (conv.key_id === 'admin-session' ? t('conv.admin_session') : conv.key_id)),
      h('span', { class: 'muted small' }, fmtTime(conv.created_at)),
      h('span', { class: 'muted small' }, t('conv.messages') + ': ' + conv.message_count)));
    const thread = h('div', { class: 'thread', testid: 'conv-messages' });
    for (const msg of conv.messages || []) {
      const bubble = h('div', { class: 'msg msg-' + msg.role, testid: 'conv-message' },
        h('div', { class: 'msg-head' },
          h('span', { class: 'msg-role' }, I18N['conv.role_' + msg.role] ? t('conv.role_' + msg.role) : msg.role),
          msg.incomplete ? badge(t('conv.incomplete'), 'warn') : null,
          msg.usage && msg.usage.total_tokens ? h('span', { class: 'muted small' }, t('conv.tokens', { count: msg.usage.total_tokens })) : null,
          h('span', { class: 'muted small' }, fmtTime(msg.created_at))),
        h('div', { class: 'msg-body' }, msg.role === 'assistant' ? renderMarkdown(msg.content) : plainText(msg.content)),
        msg.sources && msg.sources.length ? sourceCards(msg.sources) : null);
      thread.appendChild(bubble);
    }
    holder.appendChild(thread);
  }

  function plainText(content) {
    const text = typeof content === 'string' ? content : Array.isArray(content)
      ? content.map((p) => (p && p.text) || '').join('\n') : JSON.stringify(content);
    return h('div', { class: 'plain' }, text);
  }

  function sourceCards(sources) {
    return h('div', { class: 'sources', testid: 'pg-sources' },
      h('div', { class: 'sources-title' }, t('pg.sources')),
      h('div', { class: 'source-grid' }, sources.map((s, i) => {
        const snippet = h('p', { class: 'source-text' }, s.text || '');
        const cardEl = h('button', { type: 'button', class: 'source', testid: 'pg-source', onclick: () => cardEl.classList.toggle('open') },
          h('div', { class: 'source-head' },
            h('span', { class: 'source-num' }, String(s.index || i + 1)),
            h('strong', { class: 'source-title' }, s.title || s.document_id || '—')),
          h('div', { class: 'source-meta' },
            s.collection ? h('span', null, s.collection) : null,
            typeof s.score === 'number' ? h('span', null, t('pg.score', { score: s.score.toFixed(2) })) : null),
          snippet);
        return cardEl;
      })));
  }

  // ------------------------------------------------------------------
  // Logs
  // ------------------------------------------------------------------
  // A key id as people know it: its name (or prefix), or the admin session.
  function keyLabeller(keys) {
    const byId = new Map((keys || []).map((k) => [k.id, k]));
    return (id, nameHint) => {
      if (!id) return null;
      if (id === 'admin-session') return t('conv.admin_session');
      const k = byId.get(id);
      if (k) return k.name || (k.prefix + '…');
      return nameHint || (id.length > 12 ? id.slice(0, 8) + '…' : id);
    };
  }

  function httpStatusBadge(status, testid) {
    const b = badge(String(status), status < 400 ? 'ok' : 'danger', testid);
    b.prepend(h('span', { class: 'dot' }));
    b.setAttribute('data-status', String(status));
    return b;
  }

  // The "—" of a cell with nothing to show (phone cards leave such cells out).
  function emptyCell() {
    return h('span', { class: 'muted cell-empty' }, '—');
  }

  function logRequestCell(r) {
    return h('div', { class: 'log-req' },
      h('div', { class: 'log-req-line' },
        h('span', { class: 'log-method' }, r.method),
        h('span', { class: 'log-endpoint', title: r.endpoint }, r.endpoint),
        r.stream ? badge(t('logs.stream'), 'info', 'log-stream') : null),
      r.error ? h('div', { class: 'log-req-error', title: r.error }, r.error) : null);
  }

  async function pageLogs(root, ctx) {
    const refresh = btn(t('common.refresh'), { icon: 'refresh', testid: 'log-refresh' });
    root.appendChild(pageHeader(t('logs.title'), t('logs.subtitle'), refresh));
    const holder = h('div', null, loadingBlock());
    root.appendChild(holder);
    const [keys, models] = await Promise.all([
      api('GET', '/api/admin/keys').catch(() => ({ data: [] })),
      api('GET', '/api/admin/models').catch(() => ({ data: [] })),
    ]);
    if (!ctx.alive()) return;
    clear(holder);
    const keyLabel = keyLabeller(keys.data);
    const saved = S.logFilters || (S.logFilters = { key: '', status: '', endpoint: '', model: '' });

    const fKey = select([{ value: '', label: t('logs.all_keys') }]
      .concat(keys.data.map((k) => ({ value: k.id, label: k.name + ' · ' + k.prefix + '…' })))
      .concat([{ value: 'admin-session', label: t('conv.admin_session') }]), { testid: 'log-filter-key', 'aria-label': t('logs.key') });
    const fStatus = select([
      { value: '', label: t('logs.all_statuses') },
      { value: 'ok', label: t('logs.status_ok') },
      { value: 'error', label: t('logs.status_error') },
    ], { testid: 'log-filter-status', 'aria-label': t('common.status') });
    const modelIds = (models.data || []).map((m) => m.id);
    if (saved.model && !modelIds.includes(saved.model)) modelIds.push(saved.model);
    const fModel = select([{ value: '', label: t('logs.all_models') }].concat(modelIds.map((id) => ({ value: id, label: id }))), { testid: 'log-filter-model', 'aria-label': t('logs.model') });
    const fEndpoint = input({ type: 'search', placeholder: t('logs.endpoint_ph'), testid: 'log-filter-endpoint', 'aria-label': t('logs.endpoint_ph'), class: 'input log-filter-endpoint' });
    fKey.value = keys.data.some((k) => k.id === saved.key) || saved.key === 'admin-session' ? saved.key : '';
    fStatus.value = saved.status;
    fModel.value = saved.model;
    fEndpoint.value = saved.endpoint;

    const listBody = h('div', { testid: 'logs' });
    const more = btn(t('common.load_more'), { kind: 'ghost', testid: 'log-more' });
    const moreRow = h('div', { class: 'more-row', hidden: true }, more);
    holder.appendChild(card({
      title: t('logs.requests'), icon: 'logs', flush: true, testid: 'logs-card', class: 'logs-card',
      actions: h('div', { class: 'filters log-filters' }, fEndpoint, fKey, fModel, fStatus),
    }, listBody, moreRow));

    let items = [];
    let cursor = null;
    let seq = 0;
    const filtered = () => !!(fKey.value || fStatus.value || fModel.value || fEndpoint.value.trim());

    async function load(append) {
      const mine = ++seq;
      S.logFilters = { key: fKey.value, status: fStatus.value, endpoint: fEndpoint.value, model: fModel.value };
      if (!append) clear(listBody).appendChild(loadingBlock());
      const p = new URLSearchParams({ limit: '50' });
      if (fKey.value) p.set('key_id', fKey.value);
      if (fStatus.value) p.set('status', fStatus.value);
      if (fModel.value) p.set('model', fModel.value);
      if (fEndpoint.value.trim()) p.set('endpoint', fEndpoint.value.trim());
      if (append && cursor) p.set('after', cursor);
      try {
        const res = await api('GET', '/api/admin/logs?' + p.toString());
        if (!ctx.alive() || mine !== seq) return;
        items = append ? items.concat(res.data) : res.data;
        cursor = res.next_cursor || null;
        moreRow.hidden = !(res.has_more && cursor);
        draw();
      } catch (e) {
        if (ctx.alive() && mine === seq) {
          moreRow.hidden = true;
          clear(listBody).appendChild(errorBlock(e, () => load(false)));
        }
      }
    }

    function draw() {
      clear(listBody);
      if (!items.length) {
        listBody.appendChild(filtered()
          ? emptyState('search', t('logs.no_match'), null, btn(t('logs.clear_filters'), {
            icon: 'x', testid: 'log-clear-filters',
            onclick: () => { fKey.value = ''; fStatus.value = ''; fModel.value = ''; fEndpoint.value = ''; load(false); },
          }), 'logs-empty')
          : emptyState('logs', t('logs.empty'), t('logs.empty_body'), null, 'logs-empty'));
        return;
      }
      const wrap = table([
        {
          label: t('logs.time'), class: 'col-time', render: (r) => h('time', { class: 'log-time', title: new Date(r.created_at).toISOString() },
            h('span', null, new Date(r.created_at).toLocaleTimeString(locale(), { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false })),
            h('span', { class: 'muted small' }, new Date(r.created_at).toLocaleDateString(locale(), { month: 'short', day: 'numeric' }))),
        },
        { label: t('logs.request'), class: 'col-main', render: logRequestCell },
        {
          label: t('logs.key'), render: (r) => r.key_id
            ? h('span', { class: 'log-key' + (r.key_id === 'admin-session' ? ' muted' : ''), title: r.key_id }, keyLabel(r.key_id))
            : h('span', { class: 'muted' }, t('logs.no_key')),
        },
        { label: t('logs.model'), render: (r) => r.model ? h('code', { class: 'log-model' }, r.model) : emptyCell() },
        {
          label: t('common.status'), render: (r) => httpStatusBadge(r.status, 'log-status'),
        },
        {
          label: t('logs.tokens'), class: 'num', render: (r) => r.total_tokens == null ? emptyCell() : h('span', { class: 'num-cell', testid: 'log-tokens' },
            h('span', null, fmtNumber(r.total_tokens)),
            r.prompt_tokens != null && r.completion_tokens != null ? h('span', { class: 'muted small' }, t('logs.tokens_split', { prompt: fmtNumber(r.prompt_tokens), completion: fmtNumber(r.completion_tokens) })) : null),
        },
        {
          label: t('logs.latency'), class: 'num', render: (r) => h('span', { class: 'num-cell' },
            h('span', null, fmtMs(r.latency_ms)),
            // The first byte matters where it differs: streams, mostly.
            r.ttft_ms != null && (r.stream || r.ttft_ms !== r.latency_ms) ? h('span', { class: 'muted small', title: t('logs.ttft') }, t('logs.ttft_short', { ms: fmtMs(r.ttft_ms) })) : null),
        },
        {
          label: '', class: 'col-actions', render: (r) => btn(t('logs.details'), {
            small: true, kind: 'ghost', icon: 'chevron', iconOnly: true, testid: 'log-open',
            onclick: () => logDetail(r, keyLabel),
          }),
        },
      ], items, {
        testid: 'logs-table',
        rowTestid: () => 'log-row',
        rowAttrs: (r) => ({ 'data-status': String(r.status), 'data-endpoint': r.endpoint, 'data-log-id': r.id, 'data-key-id': r.key_id || '', class: 'row-click' }),
      });
      wrap.classList.add('logs-table-wrap');
      wrap.querySelectorAll('tbody tr').forEach((tr, i) => {
        tr.addEventListener('click', (e) => {
          if (e.target.closest('a, button')) return;
          const sel = window.getSelection();
          if (sel && String(sel).trim()) return; // selecting text, not opening
          logDetail(items[i], keyLabel);
        });
      });
      listBody.appendChild(wrap);
    }

    let timer = null;
    fEndpoint.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(() => load(false), 350); });
    onCleanup(() => clearTimeout(timer));
    for (const f of [fKey, fStatus, fModel]) f.addEventListener('change', () => load(false));
    more.addEventListener('click', () => busy(more, () => load(true)));
    refresh.addEventListener('click', () => busy(refresh, () => load(false)));
    await load(false);
  }

  function logDetail(r, keyLabel) {
    const keyText = r.key_id ? keyLabel(r.key_id) : t('logs.no_key');
    const tokens = (n) => (n == null ? null : fmtNumber(n));
    const mono = (text, testid) => (text == null || text === '' ? null : h('code', { testid, title: text }, text));
    let dlg = null;
    const conv = r.conversation_id ? h('a', {
      class: 'link log-conv', href: '#/conversations/' + encodeURIComponent(r.conversation_id), testid: 'log-detail-conversation', title: r.conversation_id,
      onclick: () => { if (dlg) dlg.close(); },
    }, r.conversation_id) : null;
    const section = (title, body) => h('div', { class: 'log-detail-section' }, h('h3', { class: 'log-detail-title' }, title), body);
    const body = h('div', { class: 'log-detail' },
      h('div', { class: 'log-detail-head' },
        httpStatusBadge(r.status, 'log-detail-status'),
        h('span', { class: 'log-method' }, r.method),
        h('code', { class: 'log-detail-endpoint', testid: 'log-detail-endpoint' }, r.endpoint),
        r.stream ? badge(t('logs.stream'), 'info') : null,
        h('span', { class: 'log-detail-time muted small' }, fmtFullTime(r.created_at))),
      r.error ? h('div', { class: 'log-error', role: 'note', testid: 'log-detail-error' },
        h('div', { class: 'log-error-title' }, icon('alert'), t('logs.error')),
        h('pre', { class: 'log-error-text' }, r.error)) : null,
      h('div', { class: 'log-detail-grid' },
        section(t('logs.section_request'), kv([
          [t('logs.key'), h('span', { title: r.key_id || '' }, keyText)],
          [t('logs.model'), mono(r.model)],
          [t('logs.upstream_model'), mono(r.upstream_model)],
          [t('logs.streamed'), r.stream ? t('common.yes') : t('common.no')],
          [t('logs.conversation'), conv],
          [t('logs.client_ip'), mono(r.client_ip, 'log-detail-ip')],
          [h('span', { title: t('logs.upstream_key_hint') }, t('logs.upstream_key')), mono(r.upstream_key, 'log-detail-upstream-key')],
        ])),
        section(t('logs.section_cost'), kv([
          [t('logs.latency'), fmtMs(r.latency_ms)],
          [t('logs.ttft'), fmtMs(r.ttft_ms)],
          [t('logs.retrieval'), fmtMs(r.retrieval_ms)],
          [t('logs.retries'), r.retries == null ? null : fmtNumber(r.retries)],
          [t('logs.prompt_tokens'), tokens(r.prompt_tokens)],
          [t('logs.completion_tokens'), tokens(r.completion_tokens)],
          [t('logs.total_tokens'), tokens(r.total_tokens)],
          [t('logs.request_bytes'), fmtBytes(r.request_bytes)],
          [t('logs.response_bytes'), fmtBytes(r.response_bytes)],
        ]))),
      section(t('logs.user_agent'), h('p', { class: 'log-ua', testid: 'log-detail-ua' }, r.user_agent || '—')),
      h('p', { class: 'log-detail-id muted small' }, t('logs.id') + ': ', h('span', { class: 'mono' }, r.id)));
    dlg = modal({
      title: t('logs.detail_title'), wide: true, testid: 'log-detail-modal', lightDismiss: true, body,
      actions: [btn(t('common.close'), { kind: 'secondary', testid: 'log-detail-close', onclick: () => dlg.close() })],
    });
    // Start at the top of a long dialog: focus its close button, not the foot.
    const x = dlg.el.querySelector('[data-testid="modal-close"]');
    if (x) setTimeout(() => x.focus({ preventScroll: true }), 0);
  }

  // ------------------------------------------------------------------
  // Playground
  // ------------------------------------------------------------------
  async function pagePlayground(root, ctx) {
    const pg = S.pg;
    root.classList.add('content-wide');
    root.appendChild(pageHeader(t('pg.title'), t('pg.subtitle')));
    const [models, keys] = await Promise.all([
      api('GET', '/api/admin/models'),
      api('GET', '/api/admin/keys').catch(() => ({ data: [] })),
    ]);
    if (!ctx.alive()) return;
    const keyInfo = new Map(keys.data.map((k) => [k.id, k]));
    const stored = storedKeys();

    const modelSel = select(models.data.map((m) => ({ value: m.id, label: m.id })), { testid: 'pg-model' });
    if (pg.model && models.data.some((m) => m.id === pg.model)) modelSel.value = pg.model;
    pg.model = modelSel.value;
    modelSel.addEventListener('change', () => { pg.model = modelSel.value; });

    const keyOptions = stored.map((k) => {
      const info = keyInfo.get(k.id);
      const revoked = info && (info.revoked || keyState(info) !== 'active');
      return { value: k.id, label: k.name + ' · ' + k.prefix + '…' + (revoked ? ' (' + t('pg.key_revoked') + ')' : '') };
    }).concat([{ value: '__paste__', label: t('pg.key_paste') }]);
    const keySel = select(keyOptions, { testid: 'pg-key' });
    if (pg.keyChoice && keyOptions.some((o) => o.value === pg.keyChoice)) keySel.value = pg.keyChoice;
    pg.keyChoice = keySel.value;
    const paste = input({ type: 'password', testid: 'pg-key-paste', placeholder: t('pg.key_paste_ph'), value: pg.pasted, autocomplete: 'off' });
    const pasteField = field(t('pg.key_paste'), paste);
    const syncPaste = () => { pasteField.hidden = keySel.value !== '__paste__'; };
    keySel.addEventListener('change', () => { pg.keyChoice = keySel.value; syncPaste(); });
    paste.addEventListener('input', () => { pg.pasted = paste.value; });
    syncPaste();

    const convLine = h('div', { class: 'conv-id', testid: 'pg-conversation' });
    const showConv = () => {
      clear(convLine);
      if (pg.convId) convLine.appendChild(h('a', { href: '#/conversations/' + encodeURIComponent(pg.convId), class: 'mono small' }, pg.convId));
      else convLine.appendChild(h('span', { class: 'muted small' }, t('pg.conversation_new')));
    };
    showConv();

    const newChat = btn(t('pg.new_chat'), { icon: 'plus', small: true, testid: 'pg-new', onclick: () => {
      if (pg.abort) pg.abort.abort();
      pg.messages = [];
      pg.convId = null;
      showConv();
      drawThread();
      inputEl.focus({ preventScroll: true });
    } });

    const side = h('aside', { class: 'pg-side card' },
      h('div', { class: 'card-body form' },
        field(t('pg.model'), modelSel),
        field(t('pg.key'), keySel, { hint: t('pg.key_hint') }),
        pasteField,
        h('div', { class: 'pg-conv-row' },
          h('div', { class: 'field' }, h('div', { class: 'field-label' }, t('pg.conversation')), convLine),
          newChat)));

    const thread = h('div', { class: 'pg-thread', testid: 'pg-thread' });
    const inputEl = textarea({ rows: '1', testid: 'pg-input', placeholder: t('pg.input_ph') });
    const send = btn(t('pg.send'), { kind: 'primary', icon: 'send', type: 'submit', testid: 'pg-send' });
    const stop = btn(t('pg.stop'), { kind: 'secondary', icon: 'stop', testid: 'pg-stop', onclick: () => { if (pg.abort) pg.abort.abort(); } });
    const composer = h('form', { class: 'composer', onsubmit: (e) => { e.preventDefault(); submit(); } }, inputEl, send, stop);
    const chat = h('section', { class: 'pg-chat card' }, thread, composer, h('p', { class: 'composer-hint' }, t('pg.input_hint')));
    root.appendChild(h('div', { class: 'pg' }, chat, side));

    const grow = () => { inputEl.style.height = 'auto'; inputEl.style.height = Math.min(inputEl.scrollHeight, 200) + 'px'; };
    inputEl.addEventListener('input', grow);
    inputEl.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && e.keyCode !== 229) { e.preventDefault(); submit(); }
    });
    const syncBusy = () => { send.hidden = pg.busy; stop.hidden = !pg.busy; };
    syncBusy();

    function messageEl(msg) {
      const isUser = msg.role === 'user';
      const body = h('div', { class: 'msg-body' });
      if (msg.error) {
        body.appendChild(h('div', { class: 'msg-error', role: 'alert', testid: 'pg-error' }, icon('alert'), h('span', null, msg.error)));
      }
      if (msg.content || (!msg.error && !isUser)) {
        if (isUser) body.prepend(plainText(msg.content));
        else body.prepend(renderMarkdown(msg.content));
      }
      const el = h('div', { class: 'msg msg-' + msg.role + (msg.streaming ? ' streaming' : '') + (msg.error ? ' has-error' : ''), testid: 'pg-msg-' + msg.role },
        h('div', { class: 'msg-head' }, h('span', { class: 'msg-role' }, isUser ? t('pg.you') : t('pg.assistant')), msg.stopped ? badge(t('pg.stopped'), 'warn') : null),
        body,
        msg.sources && msg.sources.length ? sourceCards(msg.sources) : null);
      if (msg.streaming && !msg.content) body.appendChild(h('span', { class: 'typing' }, h('span'), h('span'), h('span')));
      return el;
    }

    function drawThread() {
      clear(thread);
      if (!pg.messages.length) {
        thread.appendChild(emptyState('playground', t('pg.empty'), t('pg.empty_body'), null, 'pg-empty'));
        return;
      }
      for (const msg of pg.messages) {
        msg.el = messageEl(msg);
        thread.appendChild(msg.el);
      }
      thread.scrollTop = thread.scrollHeight;
    }

    function redraw(msg) {
      if (!ctx.alive()) return;
      const nearBottom = thread.scrollHeight - thread.scrollTop - thread.clientHeight < 80;
      const fresh = messageEl(msg);
      if (msg.el && msg.el.parentNode === thread) thread.replaceChild(fresh, msg.el);
      else thread.appendChild(fresh);
      msg.el = fresh;
      if (nearBottom) thread.scrollTop = thread.scrollHeight;
    }

    function fail(text) {
      const note = { role: 'assistant', content: '', error: text };
      pg.messages.push(note);
      drawThread();
    }

    async function submit() {
      if (pg.busy) return;
      const text = inputEl.value.trim();
      if (!text) return;
      const model = modelSel.value;
      if (!model) { toast(t('pg.need_model'), 'error'); return; }
      let secret = null;
      if (keySel.value === '__paste__') secret = paste.value.trim();
      else {
        const k = storedKeys().find((x) => x.id === keySel.value);
        secret = k && k.key;
      }
      if (!secret) { toast(t('pg.need_key'), 'error'); (keySel.value === '__paste__' ? paste : keySel).focus(); return; }
      // Error notes are for the eye only; they are not sent back.
      const history = pg.messages.filter((m) => !m.error && m.content).map((m) => ({ role: m.role, content: m.content }));
      history.push({ role: 'user', content: text });
      pg.messages.push({ role: 'user', content: text });
      inputEl.value = '';
      grow();
      const answer = { role: 'assistant', content: '', streaming: true, sources: null };
      pg.messages.push(answer);
      drawThread();
      pg.busy = true;
      syncBusy();
      const abort = new AbortController();
      pg.abort = abort;
      let frame = 0;
      const schedule = () => {
        if (frame) return;
        frame = requestAnimationFrame(() => { frame = 0; redraw(answer); });
      };
      try {
        const headers = { 'Content-Type': 'application/json', Accept: 'text/event-stream', Authorization: 'Bearer ' + secret };
        if (pg.convId) headers['X-Conversation-Id'] = pg.convId;
        let res;
        try {
          res = await fetch('/v1/chat/completions', {
            method: 'POST', headers, credentials: 'omit', signal: abort.signal,
            body: JSON.stringify({ model, messages: history, stream: true }),
          });
        } catch (e) {
          if (abort.signal.aborted) throw e;
          throw new ApiError(0, t('err.network'));
        }
        const conv = res.headers.get('X-Conversation-Id');
        if (!res.ok) {
          let message = 'HTTP ' + res.status;
          try {
            const data = await res.json();
            if (data && data.error && data.error.message) message = data.error.message;
          } catch (_) { /* not JSON */ }
          throw new ApiError(res.status, message);
        }
        if (conv) { pg.convId = conv; if (ctx.alive()) showConv(); }
        const type = res.headers.get('Content-Type') || '';
        if (!type.includes('text/event-stream')) {
          const data = await res.json();
          answer.content = (data.choices && data.choices[0] && data.choices[0].message && data.choices[0].message.content) || '';
          answer.sources = data.sources || null;
        } else {
          await readStream(res.body, (event) => {
            if (event.error) {
              answer.error = event.error.message || t('err.generic');
              return;
            }
            if (Array.isArray(event.sources)) answer.sources = event.sources;
            if (event.conversation_id && !pg.convId) { pg.convId = event.conversation_id; if (ctx.alive()) showConv(); }
            const choice = event.choices && event.choices[0];
            const delta = choice && choice.delta && choice.delta.content;
            if (delta) answer.content += delta;
            schedule();
          });
        }
      } catch (e) {
        if (abort.signal.aborted) answer.stopped = true;
        else answer.error = errorText(e);
      } finally {
        if (frame) cancelAnimationFrame(frame);
        answer.streaming = false;
        if (!answer.content && !answer.error && !answer.stopped) answer.error = t('err.generic');
        pg.busy = false;
        pg.abort = null;
        if (ctx.alive()) {
          syncBusy();
          redraw(answer);
          inputEl.focus({ preventScroll: true });
        }
      }
    }

    drawThread();
    onCleanup(() => { /* a running answer keeps streaming into S.pg */ });
    if (window.matchMedia('(min-width: 761px)').matches) setTimeout(() => inputEl.focus({ preventScroll: true }), 0);
  }

  // Read an SSE body, calling `onEvent` with each JSON `data:` payload until `[DONE]`.
  async function readStream(body, onEvent) {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    let done = false;
    const handle = (block) => {
      const data = block.split(/\r?\n/).filter((l) => l.startsWith('data:')).map((l) => l.slice(5).replace(/^ /, '')).join('\n');
      if (!data) return;
      if (data.trim() === '[DONE]') { done = true; return; }
      let event;
      try { event = JSON.parse(data); } catch (_) { return; }
      onEvent(event);
    };
    while (!done) {
      const { value, done: end } = await reader.read();
      if (end) break;
      buffer += decoder.decode(value, { stream: true });
      let idx;
      while (!done && (idx = buffer.search(/\r?\n\r?\n/)) >= 0) {
        const block = buffer.slice(0, idx);
        buffer = buffer.slice(idx).replace(/^\r?\n\r?\n/, '');
        handle(block);
      }
    }
    if (!done && buffer.trim()) handle(buffer);
    try { reader.cancel(); } catch (_) { /* closed */ }
  }

  // ------------------------------------------------------------------
  // Settings
  // ------------------------------------------------------------------
  async function pageSettings(root, ctx) {
    root.appendChild(pageHeader(t('set.title'), t('set.subtitle')));
    const holder = h('div', { class: 'stack' }, loadingBlock());
    root.appendChild(holder);
    let settings = await api('GET', '/api/admin/settings');
    if (!ctx.alive()) return;
    clear(holder);

    const NUMBERS = ['max_messages', 'max_message_chars', 'max_total_chars', 'top_k', 'upload_max_bytes'];
    const controls = {};
    controls.system_prompt = textarea({ rows: '5', testid: 'setting-system_prompt', placeholder: t('set.system_prompt_ph') });
    for (const n of NUMBERS) controls[n] = input({ type: 'number', min: '1', testid: 'setting-' + n });
    controls.draw_triggers = input({ testid: 'setting-draw_triggers' });
    const footer = toggle(t('set.citation_footer'), false, { testid: 'setting-citation_footer' });
    controls.citation_footer = footer.box;

    const readValue = (name) => {
      const el = controls[name];
      if (name === 'system_prompt') return el.value.trim() ? el.value : null;
      if (name === 'citation_footer') return el.checked;
      if (name === 'draw_triggers') return splitList(el.value);
      const v = el.value.trim();
      if (v === '') return null;
      const n = Number(v);
      return Number.isFinite(n) ? n : v;
    };
    const shown = (name, value) => {
      if (name === 'draw_triggers') return (value || []).join(', ');
      if (name === 'system_prompt') return value || '';
      return value == null ? '' : String(value);
    };
    const extras = {};
    const fill = () => {
      for (const name of Object.keys(controls)) {
        if (name === 'citation_footer') controls[name].checked = !!settings[name];
        else controls[name].value = shown(name, settings[name]);
        const ex = extras[name];
        if (ex) {
          clear(ex);
          if ((settings.saved || []).includes(name)) {
            ex.appendChild(badge(t('set.saved_badge'), 'accent'));
            ex.appendChild(h('button', { type: 'button', class: 'link small', testid: 'setting-reset-' + name, onclick: () => resetOne(name) }, t('common.reset')));
          }
        }
      }
    };
    const defaultText = (name) => {
      const d = settings.defaults ? settings.defaults[name] : undefined;
      if (d == null || d === '') return t('common.default_is', { value: t('common.none') });
      if (name === 'draw_triggers') return t('common.default_is', { value: d.join(', ') });
      if (name === 'citation_footer') return t('common.default_is', { value: d ? t('common.on') : t('common.off') });
      if (name === 'upload_max_bytes') return t('common.default_is', { value: fmtNumber(d) + ' (' + fmtBytes(d) + ')' });
      return t('common.default_is', { value: typeof d === 'number' ? fmtNumber(d) : d });
    };
    const f = (name, label, hint) => {
      extras[name] = h('span', { class: 'field-extra' });
      return field(label, controls[name], { hint: [hint, defaultText(name)].filter(Boolean).join(' · '), extra: extras[name] });
    };
    const footerExtra = h('span', { class: 'field-extra' });
    extras.citation_footer = footerExtra;

    const err = inlineError('settings-error');
    const save = btn(t('common.save'), { kind: 'primary', icon: 'check', type: 'submit', testid: 'settings-save' });
    const form = h('form', {
      class: 'form', novalidate: true,
      onsubmit: (e) => {
        e.preventDefault();
        err.hide();
        const changes = {};
        for (const name of Object.keys(controls)) {
          const now = readValue(name);
          const before = settings[name];
          if (JSON.stringify(now) !== JSON.stringify(before === undefined ? null : before)) {
            if (name === 'draw_triggers' && !now.length) changes[name] = null;
            else changes[name] = now;
          }
        }
        if (!Object.keys(changes).length) { toast(t('set.nothing')); return; }
        busy(save, async () => {
          try {
            settings = await api('PATCH', '/api/admin/settings', changes);
            fill();
            toast(t('set.saved'));
          } catch (e2) { err.show(errorText(e2)); }
        });
      },
    },
    f('system_prompt', t('set.system_prompt')),
    h('div', { class: 'grid-2-tight' },
      f('max_messages', t('set.max_messages')),
      f('top_k', t('set.top_k')),
      f('max_message_chars', t('set.max_message_chars')),
      f('max_total_chars', t('set.max_total_chars')),
      f('draw_triggers', t('set.draw_triggers'), t('set.draw_triggers_hint')),
      f('upload_max_bytes', t('set.upload_max_bytes'))),
    h('div', { class: 'toggle-row' }, footer.el, footerExtra),
    err.el,
    h('div', { class: 'form-actions' }, save));

    async function resetOne(name) {
      try {
        settings = await api('PATCH', '/api/admin/settings', { [name]: null });
        fill();
        toast(t('set.reset_done'));
      } catch (e) { toast(errorText(e), 'error'); }
    }

    holder.appendChild(card({ title: t('set.runtime'), icon: 'settings', testid: 'settings-card' }, form));
    fill();

    // Password
    const cur = input({ type: 'password', autocomplete: 'current-password', testid: 'pw-current' });
    const pw1 = input({ type: 'password', autocomplete: 'new-password', testid: 'pw-new' });
    const pw2 = input({ type: 'password', autocomplete: 'new-password', testid: 'pw-new2' });
    const pwErr = inlineError('pw-error');
    const pwSave = btn(t('set.password_submit'), { kind: 'primary', type: 'submit', icon: 'lock', testid: 'pw-submit' });
    const pwForm = h('form', {
      class: 'form', novalidate: true,
      onsubmit: (e) => {
        e.preventDefault();
        pwErr.hide();
        const count = [...pw1.value].length;
        if (count < 12) { pwErr.show(t('setup.too_short', { count })); pw1.focus(); return; }
        if (pw1.value !== pw2.value) { pwErr.show(t('setup.mismatch')); pw2.focus(); return; }
        busy(pwSave, async () => {
          try {
            await api('POST', '/api/admin/password', { current_password: cur.value, new_password: pw1.value }, { quiet401: true });
            cur.value = '';
            pw1.value = '';
            pw2.value = '';
            toast(t('set.password_done'));
          } catch (e2) { pwErr.show(errorText(e2)); }
        });
      },
    },
    h('div', { class: 'grid-3' },
      field(t('set.current_password'), cur),
      field(t('set.new_password'), pw1),
      field(t('set.new_password2'), pw2)),
    h('p', { class: 'field-hint' }, t('setup.password_hint') + ' ' + t('set.password_hint')),
    pwErr.el,
    h('div', { class: 'form-actions' }, pwSave));
    holder.appendChild(card({ title: t('set.password'), icon: 'lock', testid: 'password-card' }, pwForm));
  }

  // ------------------------------------------------------------------
  // Start
  // ------------------------------------------------------------------
  window.addEventListener('hashchange', () => render());
  window.addEventListener('keydown', (e) => { if (e.key === 'Escape' && S.navOpen) setNav(false); });
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', render);
  else render();
})();
