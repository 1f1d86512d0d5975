// A small translation table (English, 简体中文) for the words the app shows. t('key', {vars})
// returns the current language's text; the language comes from the user's choice, else from
// navigator.language. Not for clinical terms that must stay verbatim (engine reason texts).

const STRINGS = {
  en: {
    app_name: 'fetalmon',
    app_tagline: 'Remote fetal monitoring',
    sign_in: 'Sign in',
    sign_out: 'Sign out',
    username: 'User name',
    password: 'Password',
    signing_in: 'Signing in…',
    bad_credentials: 'The user name or password is not right. Please try again.',
    rate_limited: 'Too many attempts. Please wait a few minutes and try again.',
    language: 'Language',
    worklist: 'Worklist',
    patients: 'Patients',
    patient: 'Patient',
    hospital_id: 'Hospital ID',
    gestation: 'Gestation',
    due_date: 'Due date',
    recordings: 'Recordings',
    status: 'Status',
    unread: 'Unread',
    alerts: 'Alerts',
    live: 'Live',
    last_recording: 'Last recording',
    no_patients: 'No patients are assigned to you yet.',
    no_recordings: 'No recordings yet.',
    loading: 'Loading…',
    open: 'Open',
    back: 'Back',
    error_forbidden: 'You do not have access to this page.',
    error_not_found: 'This recording does not exist, or you do not have access to it.',
    error_generic: 'Something went wrong: {msg}',
    status_queued: 'Waiting for analysis',
    status_analysing: 'Being analysed',
    status_done: 'Analysed',
    status_failed: 'Could not be analysed',
    status_receiving: 'Being received (live)',
    // mother's page
    hello: 'Hello, {name}',
    weeks: '{w} weeks',
    week_day: '{w} weeks {d} days',
    your_baby: 'Your baby’s heart recordings',
    upload_title: 'Send a recording',
    upload_help: 'Choose the recording from your Doppler (a .wav, .flac, .ogg file, or a trace file). It is sent securely to your care team.',
    choose_file: 'Choose a file',
    no_file: 'No file chosen yet',
    feed_live: 'Live updates on',
    feed_connecting: 'Connecting…',
    feed_down: 'Live updates lost: reconnecting',
    feed_off: 'Live updates off',
    role_patient: 'Patient',
    role_clinician: 'Clinician',
    role_admin: 'Administrator',
    error_title: 'Cannot open this page',
    send: 'Send',
    cancel: 'Cancel',
    uploading: 'Sending… {pct}%',
    upload_done: 'Thank you. Your recording has arrived and will be checked.',
    upload_failed: 'The recording could not be sent: {msg}',
    upload_resumable_no: 'If the connection drops, the upload starts again from the beginning.',
    my_recordings: 'My recordings',
    sent_on: 'Sent {when}',
    reading_title: 'Your doctor’s reading',
    reading_waiting: 'Your care team has not read this recording yet. You will see their note here.',
    reading_unavailable: 'Readings from your care team will appear here.',
    analysis_ready: 'The recording has been analysed. Your care team will read it.',
    reassure_contact: 'If you are worried, or your baby moves less than usual, call your maternity unit now. Do not wait for a reading.',
    care_team: 'Your care team',
    recording_detail: 'Recording',
    duration: 'Duration',
    signal_lost: 'Signal lost',
    minutes_short: '{m} min',
  },
  zh: {
    app_name: 'fetalmon',
    app_tagline: '远程胎心监护',
    sign_in: '登录',
    sign_out: '退出登录',
    username: '用户名',
    password: '密码',
    signing_in: '正在登录…',
    bad_credentials: '用户名或密码不正确，请再试一次。',
    rate_limited: '尝试次数过多，请几分钟后再试。',
    language: '语言',
    worklist: '工作列表',
    patients: '孕妇',
    patient: '孕妇',
    hospital_id: '住院号',
    gestation: '孕周',
    due_date: '预产期',
    recordings: '记录',
    status: '状态',
    unread: '未读',
    alerts: '报警',
    live: '实时',
    last_recording: '最近记录',
    no_patients: '目前还没有分配给您的孕妇。',
    no_recordings: '还没有记录。',
    loading: '正在加载…',
    open: '打开',
    back: '返回',
    error_forbidden: '您无权查看此页面。',
    error_not_found: '此记录不存在，或您无权查看。',
    error_generic: '出现问题：{msg}',
    status_queued: '等待分析',
    status_analysing: '正在分析',
    status_done: '已分析',
    status_failed: '无法分析',
    status_receiving: '正在实时接收',
    hello: '您好，{name}',
    weeks: '孕 {w} 周',
    week_day: '孕 {w} 周 {d} 天',
    your_baby: '宝宝的胎心记录',
    upload_title: '上传记录',
    upload_help: '请选择多普勒胎心仪的录音（.wav、.flac、.ogg 文件或胎心数据文件），它会安全地发送给您的医护团队。',
    choose_file: '选择文件',
    no_file: '尚未选择文件',
    feed_live: '实时更新已连接',
    feed_connecting: '正在连接…',
    feed_down: '实时更新中断，正在重连',
    feed_off: '实时更新关闭',
    role_patient: '孕妇',
    role_clinician: '医生',
    role_admin: '管理员',
    error_title: '无法打开此页面',
    send: '发送',
    cancel: '取消',
    uploading: '正在发送… {pct}%',
    upload_done: '谢谢！您的记录已收到，医生会查看。',
    upload_failed: '记录未能发送：{msg}',
    upload_resumable_no: '如果网络中断，上传需要从头开始。',
    my_recordings: '我的记录',
    sent_on: '发送于 {when}',
    reading_title: '医生的判读',
    reading_waiting: '医护团队还没有判读这份记录，判读后会显示在这里。',
    reading_unavailable: '医护团队的判读会显示在这里。',
    analysis_ready: '记录已完成分析，医护团队会进行判读。',
    reassure_contact: '如果您感到担心，或胎动比平时少，请立即联系产科，不要等待判读结果。',
    care_team: '您的医护团队',
    recording_detail: '记录',
    duration: '时长',
    signal_lost: '信号丢失',
    minutes_short: '{m} 分钟',
  },
};

const LANG_KEY = 'fetalmon.lang';
let lang = pickDefault();
const listeners = new Set();

function pickDefault() {
  const saved = localStorage.getItem(LANG_KEY);
  if (saved && STRINGS[saved]) return saved;
  const nav = (navigator.language || 'en').toLowerCase();
  return nav.startsWith('zh') ? 'zh' : 'en';
}

export function getLang() { return lang; }
export const LANGS = [['en', 'English'], ['zh', '中文']];

export function setLang(l) {
  if (!STRINGS[l] || l === lang) return;
  lang = l;
  localStorage.setItem(LANG_KEY, l);
  document.documentElement.lang = l === 'zh' ? 'zh-CN' : 'en';
  listeners.forEach((fn) => fn(l));
}
export function onLangChange(fn) { listeners.add(fn); return () => listeners.delete(fn); }

export function t(key, vars = {}) {
  const s = STRINGS[lang][key] ?? STRINGS.en[key] ?? key;
  return s.replace(/\{(\w+)\}/g, (_, k) => (vars[k] !== undefined ? String(vars[k]) : ''));
}

document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
