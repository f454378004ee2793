export default {
  "zh-CN": {
    login: {
      token: "访问令牌",
      hint: "粘贴 API 令牌（gridcase users token 用户名）或签名的 JWT。",
      submit: "登录",
      refused: "令牌无效、已撤销或已过期。",
      expired: "登录已过期，请重新登录，登录后回到原页面。",
    },
  },
  en: {
    login: {
      token: "Access token",
      hint: "Paste your API token (gridcase users token USER) or a signed JWT.",
      submit: "Log in",
      refused: "The token is unknown, revoked or expired.",
      expired: "Your session expired: log in again to return to the page.",
    },
  },
};
