/** Messages of the server-rendered pages, in English and Russian; the language comes from Accept-Language. */
export const LANGUAGES = ['en', 'ru'] as const;
export type Lang = (typeof LANGUAGES)[number];

const en = {
  'app.name': 'LogTrace',
  'login.title': 'Sign in to LogTrace',
  'login.subtitle': 'Continue to {client}',
  'login.email': 'Email',
  'login.password': 'Password',
  'login.submit': 'Sign in',
  'login.error.invalid': 'Incorrect email or password.',
  'login.error.missing': 'Enter your email and password.',
  'login.error.locked': 'Too many failed attempts. Try again in {minutes} min.',
  'login.error.unavailable': 'Sign-in is temporarily unavailable. Try again in a moment.',
  'login.error.busy': 'Too many sign-ins are in progress right now. Try again in a moment.',
  'login.cancel': 'Cancel and return to the application',
  'consent.title': 'Allow access?',
  'consent.subtitle': '{client} asks for access to your LogTrace account as {email}.',
  'consent.scopes': 'It will be able to:',
  'consent.allow': 'Allow',
  'consent.deny': 'Deny',
  'scope.openid': 'Know who you are',
  'scope.email': 'See your email address',
  'scope.profile': 'See your name',
  'scope.offline_access': 'Stay signed in when you are away',
  'scope.read:logs': 'Read logs',
  'scope.write:alerts': 'Create and change alerts',
  'scope.admin:projects': 'Administer projects',
  'error.title': 'Something went wrong',
  'error.back': 'Return to the application and try again.',
  'logout.title': 'Sign out',
  'logout.question': 'Do you want to sign out of LogTrace?',
  'logout.yes': 'Sign out',
  'logout.no': 'Stay signed in',
  'logout.done': 'You are signed out.',
  'lang.switch': 'Language',
  'login.or': 'or',
  'login.continue_with': 'Continue with {name}',
  'federation.error.generic': 'Sign-in with {name} did not succeed. Try again, or use another way to sign in.',
  'federation.error.denied': 'Sign-in with {name} was cancelled or refused.',
  'federation.error.state': 'This sign-in link has expired or was already used. Start again.',
  'federation.error.other_browser': 'This sign-in was started in another browser, so it was not completed here. If you meant to sign in, start again from this browser. If you did not start it, someone may have sent you this link: nothing was signed in.',
  'federation.error.mfa': '{name} did not confirm multi-factor authentication (MFA), which is required. Sign in again with MFA.',
  'federation.error.no_access': 'You signed in as {email}, but this account has no access to LogTrace. Ask your administrator.',
  'federation.error.email_unverified': '{name} did not confirm your email address, so no account can be created or linked.',
  'federation.error.account_exists': 'An account with {email} already exists. Sign in the way you did before.',
  'federation.error.disabled': 'This account is disabled. Ask your administrator.',
  'federation.error.tenant': 'Your organisation ({name}) is not allowed to sign in here.',
  'federation.error.unavailable': '{name} is unreachable right now. Try again shortly.',
  'role.owner': 'Owner',
  'role.admin': 'Admin',
  'role.member': 'Member',
  'role.viewer': 'Viewer',
  'invite.title': 'You are invited to {project} as {role}',
  'invite.for': 'The invitation is for {email}. Choose your name and a password to create your account.',
  'invite.email': 'Email',
  'invite.name': 'Name',
  'invite.password': 'Password',
  'invite.password_hint': 'At least {min} characters.',
  'invite.confirm': 'Confirm password',
  'invite.submit': 'Create account',
  'invite.sso': 'Or, instead of a password: sign in with your organisation’s single sign-on ({names}) as {email} from the application; the invitation is accepted then.',
  'invite.error.summary': 'The account was not created. Correct the fields marked below.',
  'invite.error.name': 'Enter your name (up to 200 characters).',
  'invite.error.password_short': 'The password must be at least {min} characters.',
  'invite.error.password_long': 'The password must be at most {max} characters.',
  'invite.error.mismatch': 'The two passwords do not match.',
  'invite.error.busy': 'Too many requests are being handled right now, and the account was not created. Send the form again in a moment.',
  'invite.error.origin': 'This form was sent from another site and was refused. Open the invitation link again.',
  'invite.error.account_exists': 'An account with {email} already exists, so this invitation cannot create one and nothing was changed. Sign in with that account and ask the person who invited you to give it the role.',
  'invite.gone.title': 'This invitation link does not work',
  'invite.gone.not_found': 'This invitation link is not valid. Check that you copied the whole link, or ask for a new invitation.',
  'invite.gone.expired': 'This invitation has expired. Ask the person who invited you for a new one.',
  'invite.gone.revoked': 'This invitation was withdrawn. Ask the person who invited you if you still need access.',
  'invite.gone.accepted': 'This invitation was already used. Sign in with the account that was created with it.',
  'invite.done.title': 'Done: your account is ready',
  'invite.done.body': 'You are now {role} of {project}. You can now sign in as {email} with your new password; return to the application and sign in.',
} as const;

export type MessageKey = keyof typeof en;

const ru: Record<MessageKey, string> = {
  'app.name': 'LogTrace',
  'login.title': 'Вход в LogTrace',
  'login.subtitle': 'Продолжить в {client}',
  'login.email': 'Электронная почта',
  'login.password': 'Пароль',
  'login.submit': 'Войти',
  'login.error.invalid': 'Неверная электронная почта или пароль.',
  'login.error.missing': 'Введите электронную почту и пароль.',
  'login.error.locked': 'Слишком много неудачных попыток. Повторите через {minutes} мин.',
  'login.error.unavailable': 'Вход временно недоступен. Повторите попытку чуть позже.',
  'login.error.busy': 'Сейчас выполняется слишком много входов. Повторите попытку чуть позже.',
  'login.cancel': 'Отменить и вернуться в приложение',
  'consent.title': 'Разрешить доступ?',
  'consent.subtitle': '{client} запрашивает доступ к вашей учётной записи LogTrace ({email}).',
  'consent.scopes': 'Приложение сможет:',
  'consent.allow': 'Разрешить',
  'consent.deny': 'Запретить',
  'scope.openid': 'Узнать, кто вы',
  'scope.email': 'Видеть ваш адрес электронной почты',
  'scope.profile': 'Видеть ваше имя',
  'scope.offline_access': 'Сохранять доступ, пока вас нет',
  'scope.read:logs': 'Читать логи',
  'scope.write:alerts': 'Создавать и изменять оповещения',
  'scope.admin:projects': 'Администрировать проекты',
  'error.title': 'Что-то пошло не так',
  'error.back': 'Вернитесь в приложение и попробуйте ещё раз.',
  'logout.title': 'Выход',
  'logout.question': 'Выйти из LogTrace?',
  'logout.yes': 'Выйти',
  'logout.no': 'Остаться',
  'logout.done': 'Вы вышли из системы.',
  'lang.switch': 'Язык',
  'login.or': 'или',
  'login.continue_with': 'Войти через {name}',
  'federation.error.generic': 'Не удалось войти через {name}. Попробуйте ещё раз или выберите другой способ входа.',
  'federation.error.denied': 'Вход через {name} отменён или отклонён.',
  'federation.error.state': 'Ссылка для входа устарела или уже использована. Начните заново.',
  'federation.error.other_browser': 'Этот вход начат в другом браузере, поэтому здесь он не завершён. Если вы хотели войти, начните заново в этом браузере. Если вы вход не начинали, возможно, эту ссылку вам прислал кто-то другой: никто не вошёл.',
  'federation.error.mfa': '{name} не подтвердил многофакторную аутентификацию (MFA), а она обязательна. Войдите снова с MFA.',
  'federation.error.no_access': 'Вы вошли как {email}, но у этой учётной записи нет доступа к LogTrace. Обратитесь к администратору.',
  'federation.error.email_unverified': '{name} не подтвердил ваш адрес электронной почты, поэтому учётную запись нельзя создать или привязать.',
  'federation.error.account_exists': 'Учётная запись {email} уже существует. Войдите тем способом, что и раньше.',
  'federation.error.disabled': 'Учётная запись отключена. Обратитесь к администратору.',
  'federation.error.tenant': 'Вашей организации ({name}) вход сюда не разрешён.',
  'federation.error.unavailable': '{name} сейчас недоступен. Повторите попытку чуть позже.',
  'role.owner': 'Владелец',
  'role.admin': 'Администратор',
  'role.member': 'Участник',
  'role.viewer': 'Наблюдатель',
  'invite.title': 'Вас пригласили в {project}, роль: {role}',
  'invite.for': 'Приглашение для {email}. Укажите имя и пароль, чтобы создать учётную запись.',
  'invite.email': 'Электронная почта',
  'invite.name': 'Имя',
  'invite.password': 'Пароль',
  'invite.password_hint': 'Не короче {min} символов.',
  'invite.confirm': 'Пароль ещё раз',
  'invite.submit': 'Создать учётную запись',
  'invite.sso': 'Или без пароля: войдите в приложение через единый вход вашей организации ({names}) как {email} — тогда приглашение будет принято.',
  'invite.error.summary': 'Учётная запись не создана. Исправьте отмеченные поля.',
  'invite.error.name': 'Введите имя (до 200 символов).',
  'invite.error.password_short': 'Пароль должен быть не короче {min} символов.',
  'invite.error.password_long': 'Пароль должен быть не длиннее {max} символов.',
  'invite.error.mismatch': 'Пароли не совпадают.',
  'invite.error.busy': 'Сейчас обрабатывается слишком много запросов, и учётная запись не создана. Отправьте форму ещё раз чуть позже.',
  'invite.error.origin': 'Форма отправлена с другого сайта и отклонена. Откройте ссылку приглашения ещё раз.',
  'invite.error.account_exists': 'Учётная запись {email} уже существует, поэтому по приглашению её создать нельзя; ничего не изменено. Войдите в эту учётную запись и попросите пригласившего вас выдать ей роль.',
  'invite.gone.title': 'Ссылка приглашения не работает',
  'invite.gone.not_found': 'Ссылка приглашения недействительна. Проверьте, что скопировали её целиком, или попросите новое приглашение.',
  'invite.gone.expired': 'Срок приглашения истёк. Попросите пригласившего вас отправить новое.',
  'invite.gone.revoked': 'Приглашение отозвано. Если доступ ещё нужен, обратитесь к пригласившему вас.',
  'invite.gone.accepted': 'Приглашение уже использовано. Войдите в учётную запись, созданную по нему.',
  'invite.done.title': 'Готово: учётная запись создана',
  'invite.done.body': 'Теперь у вас роль «{role}» в проекте {project}. Теперь вы можете войти как {email} с новым паролем: вернитесь в приложение и войдите.',
};

const CATALOG: Record<Lang, Record<MessageKey, string>> = { en, ru };

export type Translate = (key: MessageKey, vars?: Record<string, string | number>) => string;

export function translator(lang: Lang): Translate {
  return (key, vars) => {
    const template = CATALOG[lang][key] ?? en[key];
    return vars ? template.replace(/\{(\w+)\}/g, (_, name: string) => String(vars[name] ?? `{${name}}`)) : template;
  };
}

export function hasMessage(key: string): key is MessageKey {
  return key in en;
}

/** Picks a language from an Accept-Language header (RFC 9110 §12.5.4 q-values), English by default. */
export function negotiateLanguage(header: string | undefined): Lang {
  if (!header) return 'en';
  const ranked = header
    .split(',')
    .map((part, index) => {
      const [tag = '', ...params] = part.trim().split(';');
      const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
      return { lang: tag.toLowerCase().split('-')[0] ?? '', q: q ? Number(q.slice(2)) : 1, index };
    })
    .filter((entry) => entry.q > 0 && !Number.isNaN(entry.q))
    .sort((a, b) => b.q - a.q || a.index - b.index);
  for (const entry of ranked) {
    if ((LANGUAGES as readonly string[]).includes(entry.lang)) return entry.lang as Lang;
  }
  return 'en';
}
