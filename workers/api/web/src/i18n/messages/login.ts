export default {
  "zh-CN": {
    login: {
      token: "访问令牌",
      hint: "粘贴 API 令牌（gridcase users token 用户名）或签名的 JWT。",
      submit: "登录",
      empty: "请先粘贴访问令牌。",
      refused: "令牌无效、已撤销或已过期。",
      unreachable: "无法连接到服务，请稍后重试。",
      expired: "登录已过期，请重新登录，登录后回到原页面。",
      track: "市民：查询工单进度",
    },
  },
  en: {
    login: {
      token: "Access token",
      hint: "Paste your API token (gridcase users token USER) or a signed JWT.",
      submit: "Log in",
      empty: "Paste your access token first.",
      refused: "The token is unknown, revoked or expired.",
      unreachable: "The service cannot be reached: try again in a moment.",
      expired: "Your session expired: log in again to return to the page.",
      track: "Residents: follow a case",
    },
  },
};
